-- One typed table per event topic (rendered from the Avro catalog by
-- analytics.events.events_ddl). Later schema changes are new migrations.

-- market.bars (Bar): feeds → data quality
CREATE TABLE IF NOT EXISTS market_bars
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `venue` String,
    `symbol` String,
    `interval` String,
    `open_time` Int64,
    `open` Float64,
    `high` Float64,
    `low` Float64,
    `close` Float64,
    `volume` Float64,
    `trades` Nullable(Int64),
    `adj_close` Nullable(Float64),
    `quality_flags` Array(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (venue, symbol, ts_event, event_id);

-- market.quotes (Quote): feeds → paper venue, risk
CREATE TABLE IF NOT EXISTS market_quotes
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `venue` String,
    `symbol` String,
    `bid` Float64,
    `ask` Float64,
    `bid_size` Float64,
    `ask_size` Float64,
    `synthetic` Bool,
    `fill_model_bias` Nullable(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (venue, symbol, ts_event, event_id);

-- market.bars.clean (Bar): data quality → strategies, venues, marks
CREATE TABLE IF NOT EXISTS market_bars_clean
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `venue` String,
    `symbol` String,
    `interval` String,
    `open_time` Int64,
    `open` Float64,
    `high` Float64,
    `low` Float64,
    `close` Float64,
    `volume` Float64,
    `trades` Nullable(Int64),
    `adj_close` Nullable(Float64),
    `quality_flags` Array(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (venue, symbol, ts_event, event_id);

-- dq.reports (DataQualityReport): data quality → risk, alerts, sinks
CREATE TABLE IF NOT EXISTS dq_reports
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `venue` String,
    `symbol` String,
    `check` String,
    `severity` LowCardinality(String),
    `message` String,
    `window_start` Nullable(Int64),
    `window_end` Nullable(Int64),
    `evidence` Map(String, String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (venue, symbol, ts_event, event_id);

-- orders.intents (OrderIntent): strategies → risk
CREATE TABLE IF NOT EXISTS orders_intents
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `bot_id` String,
    `strategy` String,
    `venue` String,
    `symbol` String,
    `action` LowCardinality(String),
    `client_order_id` String,
    `side` LowCardinality(Nullable(String)),
    `order_type` LowCardinality(Nullable(String)),
    `quantity` Nullable(Decimal(38, 18)),
    `limit_price` Nullable(Decimal(38, 18)),
    `time_in_force` LowCardinality(String),
    `reduce_only` Bool,
    `reason` String
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (bot_id, symbol, ts_event, event_id);

-- risk.decisions (RiskDecision): risk → sinks, parity
CREATE TABLE IF NOT EXISTS risk_decisions
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `bot_id` String,
    `venue` String,
    `symbol` String,
    `intent_id` String,
    `decision` LowCardinality(String),
    `trading_state` LowCardinality(String),
    `reasons` Array(String),
    `checks` Array(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (bot_id, symbol, ts_event, event_id);

-- orders.commands (OrderCommand): risk, kill switch → venues
CREATE TABLE IF NOT EXISTS orders_commands
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `bot_id` String,
    `venue` String,
    `account` String,
    `command` LowCardinality(String),
    `symbol` Nullable(String),
    `client_order_id` Nullable(String),
    `side` LowCardinality(Nullable(String)),
    `order_type` LowCardinality(Nullable(String)),
    `quantity` Nullable(Decimal(38, 18)),
    `limit_price` Nullable(Decimal(38, 18)),
    `time_in_force` LowCardinality(String),
    `decision_id` Nullable(String),
    `reason` String
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (venue, account, ts_event, event_id);

-- orders.events (OrderEvent): venues → portfolio, recon
CREATE TABLE IF NOT EXISTS orders_events
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `bot_id` String,
    `venue` String,
    `account` String,
    `symbol` String,
    `client_order_id` String,
    `venue_order_id` Nullable(String),
    `status` LowCardinality(String),
    `side` LowCardinality(Nullable(String)),
    `order_type` LowCardinality(Nullable(String)),
    `quantity` Nullable(Decimal(38, 18)),
    `limit_price` Nullable(Decimal(38, 18)),
    `filled_quantity` Decimal(38, 18),
    `reason` Nullable(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (venue, account, ts_event, event_id);

-- fills (Fill): venues → portfolio, recon, parity
CREATE TABLE IF NOT EXISTS fills
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `bot_id` String,
    `venue` String,
    `account` String,
    `symbol` String,
    `client_order_id` String,
    `venue_order_id` Nullable(String),
    `trade_id` String,
    `side` LowCardinality(String),
    `price` Decimal(38, 18),
    `quantity` Decimal(38, 18),
    `fee` Decimal(38, 18),
    `fee_currency` String,
    `liquidity` LowCardinality(String),
    `fill_model_bias` Nullable(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (venue, account, ts_event, event_id);

-- venue.reports (VenueReport): venues → recon
CREATE TABLE IF NOT EXISTS venue_reports
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `venue` String,
    `account` String,
    `fills` Array(String),
    `balances` Array(String),
    `positions` Array(String),
    `open_orders` Array(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (venue, account, ts_event, event_id);

-- portfolio.snapshots (PortfolioSnapshot): portfolio → portfolio risk, sinks
CREATE TABLE IF NOT EXISTS portfolio_snapshots
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `bot_id` String,
    `quote_currency` String,
    `trading_day` String,
    `cash` Decimal(38, 18),
    `equity` Decimal(38, 18),
    `peak_equity` Decimal(38, 18),
    `drawdown` Decimal(38, 18),
    `realized_pnl` Decimal(38, 18),
    `unrealized_pnl` Decimal(38, 18),
    `daily_pnl` Decimal(38, 18),
    `fees` Decimal(38, 18),
    `positions` Array(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (bot_id, ts_event, event_id);

-- risk.commands (RiskCommand): operator, portfolio risk → risk, venues
CREATE TABLE IF NOT EXISTS risk_commands
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `command` LowCardinality(String),
    `scope` String,
    `issued_by` String,
    `reason` String,
    `flatten` Bool,
    `confirmed` Bool,
    `limits` Map(String, String),
    `evidence` Map(String, String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (scope, ts_event, event_id);

-- recon.reports (ReconReport): reconciliation → alerts, gates, sinks
CREATE TABLE IF NOT EXISTS recon_reports
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `venue` String,
    `account` String,
    `bot_id` Nullable(String),
    `finding` String,
    `severity` LowCardinality(String),
    `message` String,
    `evidence` Map(String, String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (venue, account, ts_event, event_id);

-- parity.reports (ParityReport): parity → alerts, gates, sinks
CREATE TABLE IF NOT EXISTS parity_reports
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `bot_id` String,
    `window_start` Int64,
    `window_end` Int64,
    `thresholds_version` String,
    `status` String,
    `metrics` Array(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (bot_id, ts_event, event_id);

-- alerts (Alert): any agent → alert router
CREATE TABLE IF NOT EXISTS alerts
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `severity` LowCardinality(String),
    `dedup_key` String,
    `title` String,
    `message` String,
    `bot_id` Nullable(String),
    `venue` Nullable(String),
    `symbol` Nullable(String),
    `evidence` Map(String, String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (source, ts_event, event_id);

-- gate.results (GateResult): gates → sinks
CREATE TABLE IF NOT EXISTS gate_results
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `gate` String,
    `run_id` String,
    `status` LowCardinality(String),
    `reasons` Array(String),
    `evidence` Array(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (gate, ts_event, event_id);

-- deadletter (DeadLetter): any agent → sinks, metrics
CREATE TABLE IF NOT EXISTS deadletter
(
    `event_id` String,
    `ts_event` Int64,
    `ts_ingest` Int64,
    `source` String,
    `correlation_id` Nullable(String),
    `topic` String,
    `partition` Int32,
    `offset` Int64,
    `key` Nullable(String),
    `raw` Nullable(String),
    `error_kind` String,
    `error` String,
    `agent` String
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))
ORDER BY (topic, ts_event, event_id);
