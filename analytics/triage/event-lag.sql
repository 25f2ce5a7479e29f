-- title: Event lag between topics
-- why: how long each hop of the order path takes, in event time (ms): intent to risk
-- why: decision, decision to command, command to the venue's first answer, command to
-- why: first fill, per order type (a resting limit order waits for the market). A growing
-- why: tail is a slow agent or a venue in trouble.
SELECT
    hop,
    count() AS events,
    quantileExact(0.5)(lag_ms) AS p50_ms,
    quantileExact(0.9)(lag_ms) AS p90_ms,
    quantileExact(0.99)(lag_ms) AS p99_ms,
    max(lag_ms) AS max_ms
FROM
(
    SELECT '1 intent -> decision' AS hop, d.ts_event - i.ts_event AS lag_ms
    FROM risk_decisions AS d FINAL
    INNER JOIN orders_intents AS i FINAL ON i.event_id = d.intent_id
    UNION ALL
    SELECT '2 decision -> command', c.ts_event - d.ts_event
    FROM orders_commands AS c FINAL
    INNER JOIN risk_decisions AS d FINAL ON d.event_id = c.decision_id
    UNION ALL
    SELECT concat('3 command -> venue answer (', ifNull(c.order_type, '?'), ')'),
           e.first_at - c.ts_event
    FROM orders_commands AS c FINAL
    INNER JOIN
    (
        SELECT client_order_id, min(ts_event) AS first_at FROM orders_events FINAL
        GROUP BY client_order_id
    ) AS e ON e.client_order_id = c.client_order_id
    WHERE c.command = 'SUBMIT'
    UNION ALL
    SELECT concat('4 command -> first fill (', ifNull(c.order_type, '?'), ')'),
           f.first_at - c.ts_event
    FROM orders_commands AS c FINAL
    INNER JOIN
    (
        SELECT client_order_id, min(ts_event) AS first_at FROM fills FINAL
        GROUP BY client_order_id
    ) AS f ON f.client_order_id = c.client_order_id
    WHERE c.command = 'SUBMIT'
)
GROUP BY hop
ORDER BY hop
