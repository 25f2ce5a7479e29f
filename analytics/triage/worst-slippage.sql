-- title: Worst-slippage fills
-- why: slippage against the arrival price (the last clean bar close when the order was
-- why: sent), in bps, positive = paid: where execution cost the desk most.
-- param: limit UInt32 = 20
SELECT
    fromUnixTimestamp64Milli(f.ts_event) AS at,
    f.bot_id AS bot_id,
    f.symbol AS symbol,
    f.side AS side,
    f.liquidity AS liquidity,
    f.quantity AS quantity,
    f.price AS price,
    toDecimal64(b.close, 8) AS arrival,
    round(if(f.side = 'BUY', 1, -1) * (toFloat64(f.price) - b.close) / b.close * 10000, 2)
        AS slippage_bps,
    f.client_order_id AS client_order_id
FROM
(
    SELECT f.*, c.ts_event AS sent_at
    FROM fills AS f FINAL
    INNER JOIN
    (
        SELECT client_order_id, min(ts_event) AS ts_event
        FROM orders_commands FINAL
        WHERE command = 'SUBMIT'
        GROUP BY client_order_id
    ) AS c ON c.client_order_id = f.client_order_id
) AS f
ASOF INNER JOIN
(
    SELECT venue, symbol, ts_event, close FROM market_bars_clean FINAL
) AS b ON b.venue = f.venue AND b.symbol = f.symbol AND b.ts_event <= f.sent_at
ORDER BY slippage_bps DESC, f.ts_event, f.trade_id
LIMIT {limit}
