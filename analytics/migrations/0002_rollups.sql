-- Rollups a desk reads every day. Views, computed on read from the de-duplicated
-- event tables: always exact, nothing to backfill when a window is replayed.
-- (prefer_column_name_to_alias: an output may keep its input column's name.)

CREATE VIEW IF NOT EXISTS bars_5m AS
SELECT venue, symbol,
       toStartOfInterval(fromUnixTimestamp64Milli(open_time), INTERVAL 5 MINUTE) AS bucket,
       argMin(open, open_time) AS open, max(high) AS high, min(low) AS low,
       argMax(close, open_time) AS close, sum(volume) AS volume, count() AS bars
FROM market_bars_clean FINAL
GROUP BY venue, symbol, bucket
SETTINGS prefer_column_name_to_alias = 1;

CREATE VIEW IF NOT EXISTS bars_1h AS
SELECT venue, symbol,
       toStartOfHour(fromUnixTimestamp64Milli(open_time)) AS bucket,
       argMin(open, open_time) AS open, max(high) AS high, min(low) AS low,
       argMax(close, open_time) AS close, sum(volume) AS volume, count() AS bars
FROM market_bars_clean FINAL
GROUP BY venue, symbol, bucket
SETTINGS prefer_column_name_to_alias = 1;

CREATE VIEW IF NOT EXISTS bars_1d AS
SELECT venue, symbol,
       toDate(fromUnixTimestamp64Milli(open_time)) AS bucket,
       argMin(open, open_time) AS open, max(high) AS high, min(low) AS low,
       argMax(close, open_time) AS close, sum(volume) AS volume, count() AS bars
FROM market_bars_clean FINAL
GROUP BY venue, symbol, bucket
SETTINGS prefer_column_name_to_alias = 1;

-- fills and fees per bot, instrument and UTC day (exact decimals)
CREATE VIEW IF NOT EXISTS fills_daily AS
SELECT toDate(fromUnixTimestamp64Milli(ts_event)) AS day, bot_id, venue, symbol,
       count() AS fills, countIf(liquidity = 'MAKER') AS maker_fills,
       sum(quantity) AS quantity,
       sum(toDecimal256(quantity, 18) * price) AS notional,
       sum(fee) AS fees
FROM fills FINAL
GROUP BY day, bot_id, venue, symbol
SETTINGS prefer_column_name_to_alias = 1;

-- each bot's books at the end of each trading day
CREATE VIEW IF NOT EXISTS pnl_daily AS
SELECT trading_day, bot_id, any(quote_currency) AS currency,
       argMax(equity, (ts_event, ts_ingest)) AS equity,
       argMax(daily_pnl, (ts_event, ts_ingest)) AS daily_pnl,
       argMax(realized_pnl, (ts_event, ts_ingest)) AS realized_pnl,
       argMax(unrealized_pnl, (ts_event, ts_ingest)) AS unrealized_pnl,
       argMax(fees, (ts_event, ts_ingest)) AS fees,
       max(drawdown) AS max_drawdown,
       count() AS snapshots
FROM portfolio_snapshots FINAL
GROUP BY trading_day, bot_id
SETTINGS prefer_column_name_to_alias = 1;

-- risk denials per check and day (a decision may fail several checks)
CREATE VIEW IF NOT EXISTS risk_denials_daily AS
SELECT toDate(fromUnixTimestamp64Milli(ts_event)) AS day, bot_id,
       splitByChar(':', reason)[1] AS check, count() AS denials
FROM risk_decisions FINAL
ARRAY JOIN reasons AS reason
WHERE decision = 'DENY'
GROUP BY day, bot_id, check;
