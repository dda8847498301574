/**
 * The Worker's bindings. `GeneratedEnv` is what `wrangler types` reads from wrangler.toml
 * (worker-configuration.d.ts, checked in; `npm run typecheck` fails when it is stale). Written
 * here by hand is only what wrangler cannot know: the message type of each queue, variables
 * and secrets that are optional (absent from wrangler.toml on purpose), and the AI binding
 * that only production has.
 */
import type { StepMessage } from "../schema/messages";
import type { QueueBinding } from "../schema/pools";
import type { WebhookMessage } from "../schema/webhooks";
import { RETENTION_MIN_SECONDS } from "../schema/retention";

export interface Env
  extends Omit<GeneratedEnv, QueueBinding | "QUEUE_WEBHOOKS" | OptionalVar>,
    Record<QueueBinding, Queue<StepMessage>> {
  QUEUE_WEBHOOKS: Queue<WebhookMessage>;
  /** Workers AI, when bound (production); the agent pool's `workers-ai` provider uses it. */
  AI?: Ai;
  RETRY_MAX_DELAY_MS?: string;
  RETRY_MAX_ATTEMPTS?: string;
  /** "false" refuses the `system` pool's diagnostic job types (set so in production). */
  ENABLE_DIAGNOSTIC_JOBS?: string;
  WEBHOOK_SCHEDULE_MS?: string;
  WEBHOOK_TIMEOUT_MS?: string;
  /** How long a delivery's attempt may be out before it is sent again anyway (default: the timeout + 30 s). */
  WEBHOOK_IN_FLIGHT_MS?: string;
  WEBHOOK_DISABLE_AFTER_FAILURES?: string;
  WEBHOOK_DISABLE_AFTER_MS?: string;
  DOH_URL?: string;
  AI_PROVIDER?: string;
  AI_MODEL?: string;
  OPENAI_BASE_URL?: string;
  /** How long a Worker isolate trusts a key check, in ms (default 5000; "0": ask every time). */
  KEY_CACHE_MS?: string;
  /**
   * The shortest retention period an operator may set, in seconds (default 3600). Development and
   * tests lower it so that runs archive within seconds; production leaves it unset.
   */
  RETENTION_MIN_SECONDS?: string;
  /** JSON overriding fields of the price table (src/analytics/prices.ts). */
  PRICE_TABLE?: string;
  /** Secrets (.dev.vars locally, `wrangler secret put` in production). */
  OPENAI_API_KEY?: string;
  DEV_API_KEY?: string;
  ADMIN_TOKEN?: string;
  /**
   * MACs the tenant and key id of new API keys (src/lib/keys.ts), so a key naming an invented
   * tenant is refused before any object call; without it, keys are made without a MAC.
   */
  KEY_MAC_KEY?: string;
  /** "true": keys without a MAC (made before KEY_MAC_KEY) are refused too; set once all are rotated. */
  KEY_MAC_REQUIRED?: string;
  /** Signs approval gates' decision links; without it, gates are decided through the API only. */
  DECISION_LINK_SECRET?: string;
  /** Keys secret fingerprints (HKDF per tenant); without it, artifacts cannot be scanned. */
  FINGERPRINT_KEY?: string;
  /** Seals tenant secrets (HKDF per tenant, AES-GCM); without it, secrets cannot be stored. */
  SECRETS_KEY?: string;
  /** The key before the last rotation: still opens values not yet re-sealed (docs/delivery.md). */
  SECRETS_KEY_PREVIOUS?: string;
  /** The runtime's public origin (https://factory.example.com), the base of decision links; absent: links are paths. */
  PUBLIC_URL?: string;
  /** How long audit entries are kept, in days (default 365; docs/audit.md). */
  AUDIT_RETENTION_DAYS?: string;
  /** A trace viewer's URL with `{traceId}` (Jaeger, Grafana): the run page links to it (docs/telemetry.md). */
  TRACE_URL_TEMPLATE?: string;
  /** The deployment's OTLP/HTTP collector (its base URL): finished runs' spans go there (docs/telemetry.md). */
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  /** Secret: `name=value,…` headers for that collector (an API key). */
  OTEL_EXPORTER_OTLP_HEADERS?: string;
  /** How long a run's export is retried before it is dropped (`telemetry.dropped`), in ms (default 6 h). */
  TELEMETRY_GIVE_UP_MS?: string;
  /** How long one export may take before it counts as failed, in ms (default 5 s). */
  TELEMETRY_TIMEOUT_MS?: string;
  /** Exports that may wait on one collector in an isolate; past it the oldest are dropped (default 1,000). */
  TELEMETRY_MAX_BACKLOG?: string;
}

/** Variables wrangler.toml sets but the code treats as optional: tests and .dev.vars may leave them out. */
type OptionalVar =
  | "RETRY_MAX_DELAY_MS"
  | "RETRY_MAX_ATTEMPTS"
  | "ENABLE_DIAGNOSTIC_JOBS"
  | "WEBHOOK_SCHEDULE_MS"
  | "WEBHOOK_TIMEOUT_MS"
  | "WEBHOOK_DISABLE_AFTER_FAILURES"
  | "WEBHOOK_DISABLE_AFTER_MS"
  | "DOH_URL"
  | "AI_PROVIDER"
  | "AI_MODEL";

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

/** The shortest retention period an operator may set, in seconds (RETENTION_MIN_SECONDS; default one hour). */
export function retentionMinSeconds(env: Pick<Env, "RETENTION_MIN_SECONDS">): number {
  return Math.max(1, numberVar(env.RETENTION_MIN_SECONDS, RETENTION_MIN_SECONDS));
}

/** Reads a numeric variable, falling back when it is missing or not a positive number. */
export function numberVar(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 && value !== undefined && value !== "" ? n : fallback;
}
