-- title: Kill switch and trading-state changes
-- why: who stopped or resumed trading, when and why (risk.commands), and when each bot's
-- why: trading state actually changed in the risk agent's decisions.
SELECT at, kind, scope, what, by, reason
FROM
(
    SELECT
        ts_event,
        fromUnixTimestamp64Milli(ts_event) AS at,
        'command' AS kind,
        scope,
        toString(command) AS what,
        issued_by AS by,
        reason
    FROM risk_commands FINAL
    UNION ALL
    SELECT
        ts_event,
        fromUnixTimestamp64Milli(ts_event) AS at,
        'state' AS kind,
        bot_id AS scope,
        concat(previous, ' -> ', state) AS what,
        'risk' AS by,
        '' AS reason
    FROM
    (
        SELECT
            ts_event,
            bot_id,
            toString(trading_state) AS state,
            lagInFrame(toString(trading_state), 1, 'ACTIVE') OVER (
                PARTITION BY bot_id ORDER BY ts_event, event_id
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
            ) AS previous
        FROM risk_decisions FINAL
    )
    WHERE state != previous
)
ORDER BY ts_event, kind, scope
