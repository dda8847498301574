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
  binding: "QUEUE_REPO" | "QUEUE_PIPELINE" | "QUEUE_SAAS" | "QUEUE_AGENT" | "QUEUE_SYSTEM";
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
  system: { name: "system", queue: "factory-system", deadLetterQueue: "factory-system-dlq", binding: "QUEUE_SYSTEM", defaultTimeoutMs: 60_000 },
};

export function queueFor(env: Env, pool: PoolName): Queue<StepMessage> {
  return env[POOL_REGISTRY[pool].binding];
}

/** Which pool a delivered batch belongs to, and whether it is that pool's dead-letter queue. */
export function poolOfQueue(queueName: string): { pool: PoolDeclaration; deadLetter: boolean } | null {
  for (const pool of Object.values(POOL_REGISTRY)) {
    if (queueName === pool.queue) return { pool, deadLetter: false };
    if (queueName === pool.deadLetterQueue) return { pool, deadLetter: true };
  }
  return null;
}
