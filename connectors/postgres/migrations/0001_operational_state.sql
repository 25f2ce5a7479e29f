-- Operational state of the desk: what an operator, the risk agents and the
-- dashboard need *now* (orders, positions, balances, trading state, limits),
-- plus the records the control plane keeps (alert deliveries, gate runs,
-- tickets, confirmations, audit log). Every event-fed table is keyed so that a
-- re-delivered event changes nothing. Money is numeric(38,18), as in the events.

CREATE FUNCTION order_status_rank(status text) RETURNS int
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE status
        WHEN 'PENDING' THEN 0
        WHEN 'ACCEPTED' THEN 1
        WHEN 'PARTIALLY_FILLED' THEN 2
        ELSE 3  -- FILLED, CANCELED, REJECTED, EXPIRED: terminal
    END
$$;

-- One row per order, moved forward by its events (never backward: a late
-- ACCEPTED cannot reopen a FILLED order; a terminal status is final).
CREATE TABLE orders (
    client_order_id  text PRIMARY KEY,
    venue            text NOT NULL,
    account          text NOT NULL,
    bot_id           text NOT NULL,
    symbol           text NOT NULL,
    side             text CHECK (side IN ('BUY', 'SELL')),
    order_type       text,
    time_in_force    text,
    quantity         numeric(38, 18),
    limit_price      numeric(38, 18),
    status           text NOT NULL CHECK (status IN ('PENDING', 'ACCEPTED', 'PARTIALLY_FILLED',
                                                     'FILLED', 'CANCELED', 'REJECTED', 'EXPIRED')),
    filled_quantity  numeric(38, 18) NOT NULL DEFAULT 0,
    venue_order_id   text,
    reason           text,
    decision_id      text,
    command_id       text,
    created_ts       bigint NOT NULL,
    updated_ts       bigint NOT NULL,
    last_event_id    text NOT NULL
);
CREATE INDEX orders_open ON orders (venue, account, bot_id)
    WHERE status IN ('PENDING', 'ACCEPTED', 'PARTIALLY_FILLED');

-- Every status change an order went through (the state machine's history).
CREATE TABLE order_transitions (
    event_id         text PRIMARY KEY,
    client_order_id  text NOT NULL,
    status           text NOT NULL,
    filled_quantity  numeric(38, 18) NOT NULL,
    reason           text,
    ts_event         bigint NOT NULL,
    applied          boolean NOT NULL  -- false: arrived after a later status (kept, not applied)
);
CREATE INDEX order_transitions_order ON order_transitions (client_order_id, ts_event);

CREATE TABLE fills (
    event_id         text PRIMARY KEY,
    client_order_id  text NOT NULL,
    venue_order_id   text,
    trade_id         text NOT NULL,
    bot_id           text NOT NULL,
    venue            text NOT NULL,
    account          text NOT NULL,
    symbol           text NOT NULL,
    side             text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    price            numeric(38, 18) NOT NULL,
    quantity         numeric(38, 18) NOT NULL,
    fee              numeric(38, 18) NOT NULL,
    fee_currency     text NOT NULL,
    liquidity        text NOT NULL,
    ts_event         bigint NOT NULL
);
CREATE INDEX fills_order ON fills (client_order_id);
CREATE INDEX fills_bot_time ON fills (bot_id, ts_event);

-- An order with what its fills add up to (fills are the truth for quantity and fees).
CREATE VIEW orders_with_fills AS
SELECT o.*,
       coalesce(f.fills, 0)            AS fills,
       coalesce(f.quantity, 0)         AS fill_quantity,
       coalesce(f.notional, 0)         AS fill_notional,
       coalesce(f.fees, 0)             AS fill_fees,
       CASE WHEN coalesce(f.quantity, 0) > 0 THEN f.notional / f.quantity END AS avg_fill_price
FROM orders o
LEFT JOIN (
    SELECT client_order_id, count(*) AS fills, sum(quantity) AS quantity,
           sum(quantity * price) AS notional, sum(fee) AS fees
    FROM fills GROUP BY client_order_id
) f USING (client_order_id);

-- Latest position per bot and instrument, from portfolio snapshots (never goes back in time).
CREATE TABLE positions (
    bot_id           text NOT NULL,
    venue            text NOT NULL,
    symbol           text NOT NULL,
    quantity         numeric(38, 18) NOT NULL,
    avg_cost         numeric(38, 18) NOT NULL,
    mark             numeric(38, 18),
    market_value     numeric(38, 18) NOT NULL,
    unrealized_pnl   numeric(38, 18) NOT NULL,
    realized_pnl     numeric(38, 18) NOT NULL,
    as_of            bigint NOT NULL,
    snapshot_id      text NOT NULL,
    PRIMARY KEY (bot_id, venue, symbol)
);

-- Latest cash and PnL per bot (its quote currency), from portfolio snapshots.
CREATE TABLE balances (
    bot_id           text NOT NULL,
    currency         text NOT NULL,
    cash             numeric(38, 18) NOT NULL,
    equity           numeric(38, 18) NOT NULL,
    peak_equity      numeric(38, 18) NOT NULL,
    drawdown         numeric(38, 18) NOT NULL,
    realized_pnl     numeric(38, 18) NOT NULL,
    unrealized_pnl   numeric(38, 18) NOT NULL,
    daily_pnl        numeric(38, 18) NOT NULL,
    fees             numeric(38, 18) NOT NULL,
    trading_day      text NOT NULL,
    as_of            bigint NOT NULL,
    snapshot_id      text NOT NULL,
    PRIMARY KEY (bot_id, currency)
);

-- Every portfolio snapshot (the books at each change), for restarts and review.
CREATE TABLE portfolio_snapshots (
    event_id         text PRIMARY KEY,
    bot_id           text NOT NULL,
    ts_event         bigint NOT NULL,
    trading_day      text NOT NULL,
    quote_currency   text NOT NULL,
    cash             numeric(38, 18) NOT NULL,
    equity           numeric(38, 18) NOT NULL,
    peak_equity      numeric(38, 18) NOT NULL,
    drawdown         numeric(38, 18) NOT NULL,
    realized_pnl     numeric(38, 18) NOT NULL,
    unrealized_pnl   numeric(38, 18) NOT NULL,
    daily_pnl        numeric(38, 18) NOT NULL,
    fees             numeric(38, 18) NOT NULL,
    positions        jsonb NOT NULL
);
CREATE INDEX portfolio_snapshots_bot_time ON portfolio_snapshots (bot_id, ts_event);

-- The portfolio agent's own checkpoint: a bot's full book (exact, as decimal strings)
-- and the fills already in it, written in one transaction per change. A worker that
-- comes back with an incomplete changelog restores from here.
CREATE TABLE portfolio_books (
    bot_id           text PRIMARY KEY,
    seq              bigint NOT NULL,
    as_of            bigint NOT NULL,
    state            jsonb NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE portfolio_applied_fills (
    event_id         text PRIMARY KEY,
    bot_id           text NOT NULL,
    book_seq         bigint NOT NULL
);

-- What each venue account says it holds (from venue.reports), for reconciliation.
CREATE TABLE venue_balances (
    venue            text NOT NULL,
    account          text NOT NULL,
    asset            text NOT NULL,
    total            numeric(38, 18) NOT NULL,
    free             numeric(38, 18),
    as_of            bigint NOT NULL,
    report_id        text NOT NULL,
    PRIMARY KEY (venue, account, asset)
);
CREATE TABLE venue_positions (
    venue            text NOT NULL,
    account          text NOT NULL,
    symbol           text NOT NULL,
    quantity         numeric(38, 18) NOT NULL,
    avg_price        numeric(38, 18),
    as_of            bigint NOT NULL,
    report_id        text NOT NULL,
    PRIMARY KEY (venue, account, symbol)
);

-- Every risk command (kill, halt, reduce, resume, limit change) as issued.
CREATE TABLE risk_commands (
    event_id         text PRIMARY KEY,
    ts_event         bigint NOT NULL,
    command          text NOT NULL CHECK (command IN ('KILL', 'HALT', 'REDUCE', 'RESUME',
                                                      'LIMIT_CHANGE')),
    scope            text NOT NULL,
    issued_by        text NOT NULL,
    reason           text NOT NULL,
    flatten          boolean NOT NULL,
    confirmed        boolean NOT NULL,
    limits           jsonb NOT NULL,
    evidence         jsonb NOT NULL,
    bots             text[] NOT NULL,      -- the bots it changed
    refused          text                  -- why it changed nothing (e.g. RESUME unconfirmed)
);
CREATE INDEX risk_commands_time ON risk_commands (ts_event);

-- Trading state and kill switch per bot, as the risk core applies the commands.
CREATE TABLE trading_state (
    bot_id           text PRIMARY KEY,
    state            text NOT NULL CHECK (state IN ('ACTIVE', 'REDUCING', 'HALTED')),
    killed           boolean NOT NULL,
    limit_overrides  jsonb NOT NULL,
    since            bigint,
    last_command     text,
    updated_ts       bigint NOT NULL
);

-- Limit versions per bot: every LIMIT_CHANGE that took effect.
CREATE TABLE limit_versions (
    bot_id           text NOT NULL,
    version          int NOT NULL,
    overrides        jsonb NOT NULL,
    command_id       text NOT NULL,
    ts_event         bigint NOT NULL,
    PRIMARY KEY (bot_id, version),
    UNIQUE (bot_id, command_id)
);

-- Control-plane records (filled by the alert router, gates, the daily ticket and audit).
CREATE TABLE alert_deliveries (
    id               bigserial PRIMARY KEY,
    alert_id         text NOT NULL,
    dedup_key        text NOT NULL,
    sink             text NOT NULL,
    attempt          int NOT NULL CHECK (attempt >= 1),
    outcome          text NOT NULL CHECK (outcome IN ('sent', 'failed', 'dry_run',
                                                      'deduplicated', 'throttled')),
    status_code      int,
    error            text,
    artifact         text,
    ts               timestamptz NOT NULL DEFAULT now(),
    UNIQUE (alert_id, sink, attempt)
);

CREATE TABLE gate_runs (
    run_id           text PRIMARY KEY,
    gate             text NOT NULL,
    result           text NOT NULL CHECK (result IN ('PASS', 'FAIL')),
    reasons          jsonb NOT NULL,
    evidence         jsonb NOT NULL,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL
);

CREATE TABLE tickets (
    ticket_id        text PRIMARY KEY,
    trading_day      date NOT NULL,
    status           text NOT NULL CHECK (status IN ('NO_TRADE', 'DRAFT', 'APPROVED', 'SENT',
                                                     'FILLED', 'CANCELED')),
    body             jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE confirmations (
    id               bigserial PRIMARY KEY,
    subject_kind     text NOT NULL,   -- resume, ticket, fill, promotion ...
    subject_id       text NOT NULL,
    confirmed_by     text NOT NULL,
    reason           text NOT NULL,
    ts               timestamptz NOT NULL DEFAULT now()
);

-- Append-only, hash-chained: each row's hash covers the previous hash and the
-- row's canonical content, so an edit or a removal breaks the chain.
CREATE TABLE audit_log (
    seq              bigint PRIMARY KEY,
    ts_event         bigint NOT NULL,
    kind             text NOT NULL,
    actor            text NOT NULL,
    subject          text NOT NULL,
    body             jsonb NOT NULL,
    prev_hash        text NOT NULL,
    hash             text NOT NULL UNIQUE
);

-- The dashboard reads through this role and can change nothing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'desk_readonly') THEN
        CREATE ROLE desk_readonly NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO desk_readonly;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO desk_readonly;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO desk_readonly;
