-- Each backtest bar keeps the bar's prices, so a review draws candles with the run's
-- fills on them whatever the bars came from (files or the desk's own recording).
ALTER TABLE backtest_bar ADD COLUMN IF NOT EXISTS open Nullable(Float64);
ALTER TABLE backtest_bar ADD COLUMN IF NOT EXISTS high Nullable(Float64);
ALTER TABLE backtest_bar ADD COLUMN IF NOT EXISTS low Nullable(Float64);
ALTER TABLE backtest_bar ADD COLUMN IF NOT EXISTS close Nullable(Float64);
