-- title: One order's whole life, across topics
-- why: intent, risk decision, command, every venue status and every fill of one client
-- why: order id, in event-time order: the trail behind any question about an order.
-- param: order String = SELECT argMax(client_order_id, ts_event) FROM fills
SELECT at, topic, what, detail
FROM
(
    SELECT ts_event, 1 AS step, fromUnixTimestamp64Milli(ts_event) AS at, 'orders.intents' AS topic,
           toString(action) AS what,
           concat(bot_id, ' ', ifNull(side, ''), ' ', toString(ifNull(quantity, 0)), ' ', symbol,
                  ' @ ', toString(ifNull(limit_price, 0)), ' (', reason, ')') AS detail
    FROM orders_intents FINAL WHERE client_order_id = {order}
    UNION ALL
    SELECT d.ts_event, 2, fromUnixTimestamp64Milli(d.ts_event), 'risk.decisions',
           toString(d.decision), arrayStringConcat(d.reasons, '; ')
    FROM risk_decisions AS d FINAL
    WHERE d.intent_id IN (SELECT event_id FROM orders_intents WHERE client_order_id = {order})
    UNION ALL
    SELECT ts_event, 3, fromUnixTimestamp64Milli(ts_event), 'orders.commands', toString(command),
           concat(venue, '/', account, ' ', reason)
    FROM orders_commands FINAL WHERE client_order_id = {order}
    UNION ALL
    SELECT ts_event, 4, fromUnixTimestamp64Milli(ts_event), 'orders.events', toString(status),
           concat('filled ', toString(filled_quantity), ifNull(concat(' ', reason), ''))
    FROM orders_events FINAL WHERE client_order_id = {order}
    UNION ALL
    SELECT ts_event, 5, fromUnixTimestamp64Milli(ts_event), 'fills', toString(side),
           concat(toString(quantity), ' @ ', toString(price), ' fee ', toString(fee), ' ',
                  fee_currency, ' ', toString(liquidity))
    FROM fills FINAL WHERE client_order_id = {order}
)
ORDER BY ts_event, step, what
