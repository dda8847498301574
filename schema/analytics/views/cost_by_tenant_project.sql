-- Cost per tenant and project (and pool), from the per-pool usage points of finished runs.
-- kind: usage
-- columns: blob1=kind blob2=project blob4=pool double2=attempts double4=cpuMs double6=tokensIn double7=tokensOut double11=costUsd
SELECT
  index1 AS tenant,
  blob2 AS project,
  blob4 AS pool,
  SUM(double2 * _sample_interval) AS attempts,
  SUM(double4 * _sample_interval) AS cpu_ms,
  SUM((double6 + double7) * _sample_interval) AS tokens,
  SUM(double11 * _sample_interval) AS cost_usd
FROM factory_runtime
WHERE blob1 = 'usage' AND timestamp > NOW() - INTERVAL '30' DAY
GROUP BY tenant, project, pool
ORDER BY cost_usd DESC
