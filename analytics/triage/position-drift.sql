-- title: Position drift timeline, venue vs desk
-- why: at every venue report, the position the venue holds for an account next to the one
-- why: the desk's own fills add up to; a drift that appears and stays is a lost or foreign
-- why: fill, or a venue that lost its state (reconciliation raises it; this shows when).
-- why: Fills at the report's own timestamp count only if the report lists them.
SELECT
    fromUnixTimestamp64Milli(r.ts_event) AS at,
    r.venue AS venue,
    r.account AS account,
    r.symbol AS symbol,
    r.venue_qty AS venue_qty,
    b.desk_qty + arraySum(arrayMap(t -> if(has(r.reported, t.1), t.2, 0), s.trades)) AS desk_qty,
    venue_qty - desk_qty AS drift
FROM
(
    SELECT
        ts_event, venue, account,
        JSONExtractString(p, 'symbol') AS symbol,
        toDecimal128(JSONExtractString(p, 'quantity'), 18) AS venue_qty,
        arrayMap(x -> JSONExtractString(x, 'trade_id'), fills) AS reported
    FROM venue_reports FINAL
    ARRAY JOIN positions AS p
) AS r
ASOF LEFT JOIN
(
    -- the desk's position after every timestamp with fills
    SELECT
        venue, account, symbol, ts_event,
        sum(qty) OVER (
            PARTITION BY venue, account, symbol ORDER BY ts_event
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS desk_qty
    FROM
    (
        SELECT venue, account, symbol, ts_event,
               sum(if(side = 'BUY', quantity, -quantity)) AS qty
        FROM fills FINAL
        GROUP BY venue, account, symbol, ts_event
    )
) AS b ON b.venue = r.venue AND b.account = r.account AND b.symbol = r.symbol
    AND b.ts_event < r.ts_event
LEFT JOIN
(
    -- fills at exactly a report's time: the report says whether it saw them
    SELECT venue, account, symbol, ts_event,
           groupArray((trade_id, if(side = 'BUY', quantity, -quantity))) AS trades
    FROM fills FINAL
    GROUP BY venue, account, symbol, ts_event
) AS s ON s.venue = r.venue AND s.account = r.account AND s.symbol = r.symbol
    AND s.ts_event = r.ts_event
ORDER BY r.ts_event, venue, account, symbol
