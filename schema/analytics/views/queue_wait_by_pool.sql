-- Queue wait (dispatch to start) by pool and hour: the backlog as users feel it.
-- kind: step
-- columns: blob1=kind blob4=pool double2=queueWaitMs double3=execMs
SELECT
  blob4 AS pool,
  toStartOfHour(timestamp) AS hour,
  SUM(_sample_interval) AS attempts,
  quantileExactWeighted(0.50)(double2, _sample_interval) AS wait_p50_ms,
  quantileExactWeighted(0.95)(double2, _sample_interval) AS wait_p95_ms
FROM factory_runtime
WHERE blob1 = 'step' AND double3 > 0 AND timestamp > NOW() - INTERVAL '1' DAY
GROUP BY pool, hour
ORDER BY hour, pool
