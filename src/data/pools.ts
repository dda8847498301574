/**
 * The worker pools of the data plane: one queue (and one dead-letter queue) each.
 * The single source of truth for pool → queue; a test checks wrangler.toml against it.
 */
import type { StepMessage } from "../../schema/messages";
import type { PoolName } from "../../schema/vocabulary";
import type { Env } from "../env";

export interface PoolDeclaration {
  name: PoolName;
  queue: string;
  deadLetterQueue: string;
  /** The pool's queue; null for an external pool, whose steps wait in its Pool object for HTTP workers. */
  binding: "QUEUE_REPO" | "QUEUE_PIPELINE" | "QUEUE_SAAS" | "QUEUE_AGENT" | "QUEUE_SYSTEM" | null;
  /** Default per-attempt timeout for steps of this pool. */
  defaultTimeoutMs: number;
}

export const POOL_REGISTRY: Record<PoolName, PoolDeclaration> = {
  repo: { name: "repo", queue: "factory-repo", deadLetterQueue: "factory-repo-dlq", binding: "QUEUE_REPO", defaultTimeoutMs: 120_000 },
  pipeline: {
    name: "pipeline",
    queue: "factory-pipeline",
    deadLetterQueue: "factory-pipeline-dlq",
    binding: "QUEUE_PIPELINE",
    defaultTimeoutMs: 60_000,
  },
  saas: { name: "saas", queue: "factory-saas", deadLetterQueue: "factory-saas-dlq", binding: "QUEUE_SAAS", defaultTimeoutMs: 120_000 },
  // Model calls are slow and rate-limited upstream: longer timeout, fewer concurrent consumers.
  agent: { name: "agent", queue: "factory-agent", deadLetterQueue: "factory-agent-dlq", binding: "QUEUE_AGENT", defaultTimeoutMs: 300_000 },
  // Workers outside Cloudflare lease these steps over HTTP (POST /v1/pools/external/leases).
  external: { name: "external", queue: "", deadLetterQueue: "", binding: null, defaultTimeoutMs: 600_000 },
  system: { name: "system", queue: "factory-system", deadLetterQueue: "factory-system-dlq", binding: "QUEUE_SYSTEM", defaultTimeoutMs: 60_000 },
};

/** Pools served by workers outside Cloudflare, over the pull API. */
export const EXTERNAL_POOLS = ["external"] as const satisfies readonly PoolName[];

/** The pool's queue, or null for an external pool. */
export function queueFor(env: Env, pool: PoolName): Queue<StepMessage> | null {
  const binding = POOL_REGISTRY[pool].binding;
  return binding ? env[binding] : null;
}

/** Which pool a delivered batch belongs to, and whether it is that pool's dead-letter queue. */
export function poolOfQueue(queueName: string): { pool: PoolDeclaration; deadLetter: boolean } | null {
  for (const pool of Object.values(POOL_REGISTRY)) {
    if (!pool.binding) continue;
    if (queueName === pool.queue) return { pool, deadLetter: false };
    if (queueName === pool.deadLetterQueue) return { pool, deadLetter: true };
  }
  return null;
}
