-- title: Data-quality issues by venue
-- why: before blaming a strategy, check its data: gaps, stale streams, outliers,
-- why: zero-volume runs and cross-market divergence, worst first.
SELECT
    venue,
    symbol,
    check,
    severity,
    count() AS reports,
    fromUnixTimestamp64Milli(min(ts_event)) AS first_seen,
    fromUnixTimestamp64Milli(max(ts_event)) AS last_seen
FROM dq_reports FINAL
WHERE severity != 'INFO'
GROUP BY venue, symbol, check, severity
ORDER BY venue, indexOf(['CRITICAL', 'WARNING'], severity), reports DESC, symbol, check
