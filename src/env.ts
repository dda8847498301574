/** The Worker's bindings, typed. Mirrors wrangler.toml; tests compare the two. */
import type { StepMessage } from "../schema/messages";
import type { RunObject } from "./control/run/object";
import type { TenantObject } from "./control/tenant/object";

export interface Env {
  RUN: DurableObjectNamespace<RunObject>;
  TENANT: DurableObjectNamespace<TenantObject>;
  ARTIFACTS: R2Bucket;
  QUEUE_REPO: Queue<StepMessage>;
  QUEUE_PIPELINE: Queue<StepMessage>;
  QUEUE_SYSTEM: Queue<StepMessage>;
  /** "production" disables every development default (dev key, diagnostic shortcuts). */
  ENVIRONMENT: string;
  LEASE_QUEUED_MS: string;
  LEASE_GRACE_MS: string;
  RETRY_BASE_MS: string;
  /** Secrets (.dev.vars locally, `wrangler secret put` in production). */
  DEV_API_KEY?: string;
  ADMIN_TOKEN?: string;
}

export const isProduction = (env: Pick<Env, "ENVIRONMENT">): boolean => env.ENVIRONMENT === "production";

/** Reads a numeric variable, falling back when it is missing or not a positive number. */
export function numberVar(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 && value !== undefined && value !== "" ? n : fallback;
}
