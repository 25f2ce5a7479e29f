-- title: Fills without a matching order
-- why: a fill for a client order id the desk never submitted is someone else trading the
-- why: account, a venue bug or a lost command: every row here is an incident.
SELECT
    fromUnixTimestamp64Milli(f.ts_event) AS at,
    f.bot_id,
    f.venue,
    f.account,
    f.symbol,
    f.client_order_id,
    f.trade_id,
    f.side,
    f.price,
    f.quantity
FROM fills AS f FINAL
LEFT ANTI JOIN
(
    SELECT DISTINCT client_order_id
    FROM orders_commands FINAL
    WHERE command = 'SUBMIT' AND client_order_id IS NOT NULL
) AS c ON c.client_order_id = f.client_order_id
ORDER BY f.ts_event, f.trade_id
