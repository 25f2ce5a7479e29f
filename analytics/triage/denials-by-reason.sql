-- title: Risk denials by reason, hour by hour, since a day (default: yesterday)
-- why: a wall of denials is either a limit doing its job or a bad limit, stale data or
-- why: a kill switch left on; the failing check and its timing tell which.
-- param: since Date = SELECT max(toDate(fromUnixTimestamp64Milli(ts_event))) - 1 FROM risk_decisions
SELECT
    toStartOfHour(fromUnixTimestamp64Milli(ts_event)) AS hour,
    bot_id,
    splitByChar(':', reason)[1] AS check,
    count() AS denials
FROM risk_decisions FINAL
ARRAY JOIN reasons AS reason
WHERE decision = 'DENY' AND toDate(fromUnixTimestamp64Milli(ts_event)) >= {since}
GROUP BY hour, bot_id, check
ORDER BY hour, bot_id, denials DESC, check
