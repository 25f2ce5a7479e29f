-- End-of-day prices (analytics/daily/eod.py), as kept in PostgreSQL's market_prices_eod:
-- one row per symbol, day and source file (by content hash). A re-ingest of the same
-- files writes the same keys: read with FINAL and nothing has changed.
CREATE TABLE IF NOT EXISTS market_prices_eod (
    symbol String,
    day Date32,
    source String,
    adj_close Nullable(Decimal(38, 12)),
    close Nullable(Decimal(38, 12)),
    volume Nullable(Decimal(38, 6))
) ENGINE = ReplacingMergeTree ORDER BY (symbol, day, source);
