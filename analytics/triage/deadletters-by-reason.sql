-- title: Dead letters by reason
-- why: every event an agent could not take is kept with the reason; a new reason or a
-- why: growing count is a producer or schema problem to fix before data is missed.
SELECT
    topic,
    agent,
    error_kind,
    substring(error, 1, 160) AS reason,
    count() AS letters,
    fromUnixTimestamp64Milli(min(ts_event)) AS first_seen,
    fromUnixTimestamp64Milli(max(ts_event)) AS last_seen
FROM deadletter FINAL
GROUP BY topic, agent, error_kind, reason
ORDER BY letters DESC, topic, agent, reason
