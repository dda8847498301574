-- Webhook delivery attempts and their success rate per tenant and day, with latency.
-- kind: webhook
-- columns: blob1=kind blob4=outcome double2=latencyMs
SELECT
  index1 AS tenant,
  toStartOfDay(timestamp) AS day,
  SUM(_sample_interval) AS attempts,
  SUM(IF(blob4 = 'delivered', _sample_interval, 0)) AS delivered,
  delivered / attempts AS success_rate,
  quantileExactWeighted(0.95)(double2, _sample_interval) AS latency_p95_ms
FROM factory_runtime
WHERE blob1 = 'webhook' AND timestamp > NOW() - INTERVAL '7' DAY
GROUP BY tenant, day
ORDER BY day, tenant
