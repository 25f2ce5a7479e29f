-- Backtest records (desk backtest run): one row per run, per bot bar, fill, order and risk
-- decision. Any strategy fits without a schema change: its state and each event's full
-- payload are JSON strings. A run id is a hash of the run's inputs, so a run written twice
-- is the same rows: ReplacingMergeTree keeps one (read with FINAL).

CREATE TABLE IF NOT EXISTS backtest_run (
    run_id String,
    code_version String,
    config_hash String,
    data_hash String,
    fill_model_bias String,
    strategies Array(String),
    bots Array(String),
    first_ts Int64,
    last_ts Int64,
    bars UInt64,
    fills UInt64,
    net_profit Decimal(38, 18),
    max_drawdown Float64,
    sharpe Nullable(Float64),
    summary String,
    config String
) ENGINE = ReplacingMergeTree ORDER BY run_id;

CREATE TABLE IF NOT EXISTS backtest_bar (
    run_id String,
    bot_id String,
    ts_event Int64,
    symbol String,
    equity Decimal(38, 18),
    cash Decimal(38, 18),
    drawdown Decimal(38, 18),
    position Decimal(38, 18),
    positions String,
    state String
) ENGINE = ReplacingMergeTree ORDER BY (run_id, bot_id, ts_event, symbol);

CREATE TABLE IF NOT EXISTS backtest_fill (
    run_id String,
    bot_id String,
    ts_event Int64,
    event_id String,
    symbol String,
    client_order_id String,
    side String,
    price Decimal(38, 18),
    quantity Decimal(38, 18),
    fee Decimal(38, 18),
    liquidity String,
    payload String
) ENGINE = ReplacingMergeTree ORDER BY (run_id, ts_event, event_id);

CREATE TABLE IF NOT EXISTS backtest_order (
    run_id String,
    bot_id String,
    ts_event Int64,
    event_id String,
    command String,
    symbol String,
    client_order_id String,
    side String,
    order_type String,
    quantity Nullable(Decimal(38, 18)),
    limit_price Nullable(Decimal(38, 18)),
    payload String
) ENGINE = ReplacingMergeTree ORDER BY (run_id, ts_event, event_id);

CREATE TABLE IF NOT EXISTS backtest_decision (
    run_id String,
    bot_id String,
    ts_event Int64,
    event_id String,
    symbol String,
    decision String,
    reasons Array(String),
    payload String
) ENGINE = ReplacingMergeTree ORDER BY (run_id, ts_event, event_id);
