-- The daily ticket (docs/daily-ticket.md): end-of-day prices, the trades a ticket intends
-- and the fills an operator confirms. A ticket's status may be TRADE (the dry-run trade
-- mode was on and every gate passed) besides NO_TRADE.
ALTER TABLE tickets DROP CONSTRAINT IF EXISTS tickets_status_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_status_check
    CHECK (status IN ('NO_TRADE', 'TRADE', 'DRAFT', 'APPROVED', 'SENT', 'FILLED', 'CANCELED'));

CREATE TABLE market_prices_eod (
    symbol           text NOT NULL,
    day              date NOT NULL,
    source           text NOT NULL,          -- "<file>@<sha256 prefix>": by content
    adj_close        numeric,
    close            numeric,
    volume           numeric,
    PRIMARY KEY (symbol, day, source)
);

CREATE TABLE ledger_trades_intended (
    ticket_id        text NOT NULL REFERENCES tickets (ticket_id),
    line_no          int NOT NULL,
    symbol           text NOT NULL,
    side             text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    units            numeric NOT NULL CHECK (units > 0),
    price            numeric NOT NULL,
    price_currency   text NOT NULL,
    notional_account numeric NOT NULL,
    account_currency text NOT NULL,
    PRIMARY KEY (ticket_id, line_no)
);

CREATE TABLE ledger_trades_fills (
    ticket_id        text NOT NULL REFERENCES tickets (ticket_id),
    fill_no          int NOT NULL,
    symbol           text NOT NULL,
    side             text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    units            numeric NOT NULL CHECK (units > 0),
    price            numeric NOT NULL CHECK (price > 0),
    currency         text NOT NULL,
    fee              numeric NOT NULL DEFAULT 0 CHECK (fee >= 0),
    executed_at      timestamptz NOT NULL,
    file_sha256      text NOT NULL,          -- the confirmation file, by content
    confirmed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, fill_no),
    UNIQUE (ticket_id, file_sha256, fill_no)
);
GRANT SELECT ON market_prices_eod, ledger_trades_intended, ledger_trades_fills TO desk_readonly;

-- Each scheduled (or hand-started) run of the daily workflow: which step it reached, and
-- where it failed.
CREATE TABLE daily_runs (
    run_id           text PRIMARY KEY,
    job              text NOT NULL,          -- morning | ticket
    as_of            date NOT NULL,
    scheduled_for    timestamptz,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz,
    status           text NOT NULL CHECK (status IN ('RUNNING', 'OK', 'FAILED')),
    failed_step      text,
    error            text,
    artifacts        jsonb NOT NULL DEFAULT '{}'
);
GRANT SELECT ON daily_runs TO desk_readonly;
