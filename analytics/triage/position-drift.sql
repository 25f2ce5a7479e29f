-- title: Position drift timeline, venue vs desk
-- why: at every venue report, the position the venue holds for an account next to the one
-- why: the desk's own fills add up to; a drift that appears and stays is a lost or foreign
-- why: fill, or a venue that lost its state (reconciliation raises it; this shows when).
-- why: A desk fill counts from the report that lists it (a venue reports what it has seen,
-- why: and another symbol's bar may reach it after a later report); a fill the venue never
-- why: listed counts from its own event time, so a phantom fill shows as drift.
SELECT
    fromUnixTimestamp64Milli(r.ts_event) AS at,
    r.venue AS venue,
    r.account AS account,
    r.symbol AS symbol,
    r.venue_qty AS venue_qty,
    b.desk_qty AS desk_qty,
    venue_qty - desk_qty AS drift
FROM
(
    SELECT
        ts_event, venue, account,
        JSONExtractString(p, 'symbol') AS symbol,
        toDecimal128(JSONExtractString(p, 'quantity'), 18) AS venue_qty
    FROM venue_reports FINAL
    ARRAY JOIN positions AS p
) AS r
ASOF LEFT JOIN
(
    -- the desk's position from every time it changed, as the venue's reports saw it
    SELECT
        venue, account, symbol, counts_from,
        sum(qty) OVER (
            PARTITION BY venue, account, symbol ORDER BY counts_from
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS desk_qty
    FROM
    (
        SELECT f.venue AS venue, f.account AS account, f.symbol AS symbol,
               if(l.listed_at = 0, f.ts_event + 1, l.listed_at) AS counts_from,
               sum(if(f.side = 'BUY', f.quantity, -f.quantity)) AS qty
        FROM (SELECT * FROM fills FINAL) AS f
        LEFT JOIN
        (
            SELECT venue, account, JSONExtractString(x, 'trade_id') AS trade_id,
                   min(ts_event) AS listed_at
            FROM venue_reports FINAL
            ARRAY JOIN fills AS x
            GROUP BY venue, account, trade_id
        ) AS l ON l.venue = f.venue AND l.account = f.account AND l.trade_id = f.trade_id
        GROUP BY venue, account, symbol, counts_from
    )
) AS b ON b.venue = r.venue AND b.account = r.account AND b.symbol = r.symbol
    AND b.counts_from <= r.ts_event
ORDER BY r.ts_event, venue, account, symbol
