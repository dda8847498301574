-- Run duration percentiles by blueprint, and the share of runs within the blueprint's expected
-- time (withinExpected is -1 for runs that are not judged).
-- kind: run
-- columns: blob1=kind blob3=blueprint double1=durationMs double11=withinExpected
SELECT
  blob3 AS blueprint,
  SUM(_sample_interval) AS runs,
  quantileExactWeighted(0.50)(double1, _sample_interval) AS p50_ms,
  quantileExactWeighted(0.95)(double1, _sample_interval) AS p95_ms,
  quantileExactWeighted(0.99)(double1, _sample_interval) AS p99_ms,
  SUM(IF(double11 = 1, _sample_interval, 0)) / SUM(IF(double11 >= 0, _sample_interval, 0)) AS within_expected
FROM factory_runtime
WHERE blob1 = 'run' AND timestamp > NOW() - INTERVAL '7' DAY
GROUP BY blueprint
ORDER BY runs DESC
