/** The Worker's bindings, typed. Mirrors wrangler.toml; tests compare the two. */
import type { StepMessage } from "../schema/messages";
import type { WebhookMessage } from "../schema/webhooks";
import type { RunObject } from "./control/run/object";
import type { TenantObject } from "./control/tenant/object";
import type { PoolObject } from "./control/pool/object";
import type { DirectoryObject } from "./control/directory/object";

export interface Env {
  RUN: DurableObjectNamespace<RunObject>;
  TENANT: DurableObjectNamespace<TenantObject>;
  POOL: DurableObjectNamespace<PoolObject>;
  DIRECTORY: DurableObjectNamespace<DirectoryObject>;
  ARTIFACTS: R2Bucket;
  QUEUE_REPO: Queue<StepMessage>;
  QUEUE_PIPELINE: Queue<StepMessage>;
  QUEUE_SAAS: Queue<StepMessage>;
  QUEUE_AGENT: Queue<StepMessage>;
  QUEUE_SYSTEM: Queue<StepMessage>;
  /** Workers AI, when bound (production); the agent pool's `workers-ai` provider uses it. */
  AI?: Ai;
  QUEUE_WEBHOOKS: Queue<WebhookMessage>;
  /** Workers Analytics Engine: runs, steps, usage and webhooks (schema/analytics/points.ts). */
  ANALYTICS: AnalyticsEngineDataset;
  /** "production" disables every development default (dev key, diagnostic shortcuts). */
  ENVIRONMENT: string;
  LEASE_QUEUED_MS: string;
  LEASE_GRACE_MS: string;
  RETRY_BASE_MS: string;
  RETRY_MAX_DELAY_MS?: string;
  RETRY_MAX_ATTEMPTS?: string;
  /** "false" refuses the `system` pool's diagnostic job types (set so in production). */
  ENABLE_DIAGNOSTIC_JOBS?: string;
  /** Webhook delivery: retry schedule (comma-separated ms), attempt timeout, disablement. */
  WEBHOOK_SCHEDULE_MS?: string;
  WEBHOOK_TIMEOUT_MS?: string;
  /** How long a delivery's attempt may be out before it is sent again anyway (default: the timeout + 30 s). */
  WEBHOOK_IN_FLIGHT_MS?: string;
  WEBHOOK_DISABLE_AFTER_FAILURES?: string;
  WEBHOOK_DISABLE_AFTER_MS?: string;
  /** DNS-over-HTTPS resolver (JSON API) for webhook host names; tests point it at loopback. */
  DOH_URL?: string;
  /** AI agent steps: offline (deterministic, the default), openai (any compatible endpoint), workers-ai. */
  AI_PROVIDER?: string;
  AI_MODEL?: string;
  OPENAI_BASE_URL?: string;
  /** Secret. */
  OPENAI_API_KEY?: string;
  /** JSON overriding fields of the price table (src/analytics/prices.ts). */
  PRICE_TABLE?: string;
  /** Secrets (.dev.vars locally, `wrangler secret put` in production). */
  DEV_API_KEY?: string;
  ADMIN_TOKEN?: string;
}

export const isProduction = (env: Pick<Env, "ENVIRONMENT">): boolean => env.ENVIRONMENT === "production";

/** Run-resolution options from the environment: global retry defaults, diagnostics switch. */
export function resolveOptions(env: Env) {
  const initialDelayMs = numberVar(env.RETRY_BASE_MS, 1000);
  return {
    retry: {
      maxAttempts: Math.max(1, numberVar(env.RETRY_MAX_ATTEMPTS, 3)),
      initialDelayMs,
      maxDelayMs: Math.max(initialDelayMs, numberVar(env.RETRY_MAX_DELAY_MS, 5 * 60_000)),
    },
    diagnostics: env.ENABLE_DIAGNOSTIC_JOBS !== "false",
  };
}

/** Reads a numeric variable, falling back when it is missing or not a positive number. */
export function numberVar(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 && value !== undefined && value !== "" ? n : fallback;
}
