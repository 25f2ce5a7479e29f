-- title: What happened yesterday (or on a day), per bot
-- why: the first question of the morning. Intents, risk verdicts, orders, fills, fees
-- why: and the books at the end of the day, one row per bot. Yesterday is the day before
-- why: the latest trading day in the store (live: before today; a replay: its last full day).
-- param: day Date = SELECT max(toDate(trading_day)) - 1 FROM portfolio_snapshots
SELECT
    p.bot_id AS bot_id,
    ifNull(i.intents, 0) AS intents,
    ifNull(r.approved, 0) AS approved,
    ifNull(r.denied, 0) AS denied,
    ifNull(f.fills, 0) AS fills,
    ifNull(f.notional, 0) AS notional,
    ifNull(f.fees, 0) AS fees,
    p.equity AS equity,
    p.daily_pnl AS daily_pnl,
    p.max_drawdown AS max_drawdown
FROM
(
    SELECT bot_id, equity, daily_pnl, max_drawdown
    FROM pnl_daily
    WHERE trading_day = toString({day})
) AS p
LEFT JOIN
(
    SELECT bot_id, count() AS intents
    FROM orders_intents FINAL
    WHERE toDate(fromUnixTimestamp64Milli(ts_event)) = {day}
    GROUP BY bot_id
) AS i ON i.bot_id = p.bot_id
LEFT JOIN
(
    SELECT bot_id, countIf(decision = 'APPROVE') AS approved, countIf(decision = 'DENY') AS denied
    FROM risk_decisions FINAL
    WHERE toDate(fromUnixTimestamp64Milli(ts_event)) = {day}
    GROUP BY bot_id
) AS r ON r.bot_id = p.bot_id
LEFT JOIN
(
    SELECT bot_id, sum(fills) AS fills, sum(notional) AS notional, sum(fees) AS fees
    FROM fills_daily
    WHERE day = {day}
    GROUP BY bot_id
) AS f ON f.bot_id = p.bot_id
ORDER BY bot_id
