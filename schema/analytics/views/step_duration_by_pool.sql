-- Attempt execution time percentiles by pool and job type.
-- kind: step
-- columns: blob1=kind blob4=pool blob5=stepType double3=execMs
SELECT
  blob4 AS pool,
  blob5 AS step_type,
  SUM(_sample_interval) AS attempts,
  quantileExactWeighted(0.50)(double3, _sample_interval) AS p50_ms,
  quantileExactWeighted(0.95)(double3, _sample_interval) AS p95_ms,
  quantileExactWeighted(0.99)(double3, _sample_interval) AS p99_ms
FROM factory_runtime
WHERE blob1 = 'step' AND timestamp > NOW() - INTERVAL '7' DAY
GROUP BY pool, step_type
ORDER BY attempts DESC
