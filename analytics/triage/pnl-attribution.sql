-- title: PnL attribution, price vs fees, per bot and day
-- why: a day's net PnL split into what prices did to the books (realized + unrealized,
-- why: before costs) and what the venue charged, with maker/taker counts.
SELECT
    p.trading_day AS day,
    p.bot_id AS bot_id,
    p.currency AS currency,
    p.daily_pnl + ifNull(f.fees, 0) AS price_pnl,
    -ifNull(f.fees, 0) AS fees_pnl,
    p.daily_pnl AS net_pnl,
    ifNull(f.fills, 0) AS fills,
    ifNull(f.maker_fills, 0) AS maker_fills
FROM pnl_daily AS p
LEFT JOIN
(
    SELECT toString(day) AS trading_day, bot_id, sum(fees) AS fees, sum(fills) AS fills,
           sum(maker_fills) AS maker_fills
    FROM fills_daily
    GROUP BY trading_day, bot_id
) AS f ON f.trading_day = p.trading_day AND f.bot_id = p.bot_id
ORDER BY day, bot_id
