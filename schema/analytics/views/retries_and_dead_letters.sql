-- Retries, final failures and dead-lettered attempts per pool and day.
-- kind: step
-- columns: blob1=kind blob4=pool blob6=outcome blob7=errorCode
SELECT
  blob4 AS pool,
  toStartOfDay(timestamp) AS day,
  SUM(_sample_interval) AS attempts,
  SUM(IF(blob6 = 'retrying', _sample_interval, 0)) AS retried,
  SUM(IF(blob6 = 'failed', _sample_interval, 0)) AS failed,
  SUM(IF(blob7 = 'step.dead_lettered', _sample_interval, 0)) AS dead_lettered,
  retried / attempts AS retry_rate
FROM factory_runtime
WHERE blob1 = 'step' AND timestamp > NOW() - INTERVAL '30' DAY
GROUP BY pool, day
ORDER BY day, pool
