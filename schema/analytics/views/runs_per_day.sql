-- Runs and success rate per day, per tenant. The rate excludes cancels and validation failures
-- (as GET /v1/metrics does). Counts are weighted by _sample_interval.
-- kind: run
-- columns: blob1=kind blob4=status blob5=errorCode
SELECT
  index1 AS tenant,
  toStartOfDay(timestamp) AS day,
  SUM(_sample_interval) AS runs,
  SUM(IF(blob4 = 'succeeded', _sample_interval, 0)) AS succeeded,
  SUM(IF(blob4 = 'failed' AND blob5 != 'run.invalid_graph', _sample_interval, 0)) AS failed,
  succeeded / (succeeded + failed) AS success_rate
FROM factory_runtime
WHERE blob1 = 'run' AND timestamp > NOW() - INTERVAL '30' DAY
GROUP BY tenant, day
ORDER BY day, tenant
