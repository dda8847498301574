/** The run engine's settings, from the Worker's environment (short leases and backoff in tests). */
import { numberVar, resolveOptions, type Env } from "../../env";
import { callbackUrl, decisionLinks } from "../../lib/decision-links";
import type { EngineConfig } from "./types";

export function engineConfig(env: Env): EngineConfig {
  const linkSecret = env.DECISION_LINK_SECRET;
  return {
    leaseQueuedMs: numberVar(env.LEASE_QUEUED_MS, 60_000),
    leaseGraceMs: numberVar(env.LEASE_GRACE_MS, 15_000),
    outboxRetryMs: 5_000,
    lostBudget: 10,
    webhookBatchMs: 2_000,
    resolve: resolveOptions(env),
    telemetry: Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT),
    ...(linkSecret
      ? {
          decisionLinks: (gate) => decisionLinks(linkSecret, env.PUBLIC_URL ?? "", gate),
          callbackUrl: (step) => callbackUrl(linkSecret, env.PUBLIC_URL ?? "", step),
        }
      : {}),
  };
}
