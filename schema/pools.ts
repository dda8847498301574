/**
 * The worker pools: one or more queues (each with its dead-letter queue), or none for an
 * external pool. A contract between the planes: the control plane dispatches to these queues,
 * the data plane consumes them. The single source of truth for pool → queues; a test checks
 * wrangler.toml against it.
 */
import type { PoolName } from "./vocabulary";

/** The Worker's binding names of the pools' queues: shard 0 keeps the pool's first name. */
export type QueueBinding =
  | "QUEUE_REPO"
  | "QUEUE_PIPELINE"
  | "QUEUE_SAAS"
  | "QUEUE_AGENT"
  | "QUEUE_SYSTEM"
  | "QUEUE_SYSTEM_1"
  | "QUEUE_SYSTEM_2"
  | "QUEUE_SYSTEM_3"
  | "QUEUE_DELIVERY";

/** One queue of a pool, with its dead-letter queue and the Worker's binding of it. */
export interface QueueShard {
  queue: string;
  deadLetterQueue: string;
  binding: QueueBinding;
}

export interface PoolDeclaration {
  name: PoolName;
  /**
   * The pool's queues, every one consumed; the first `activeShards` take new steps (a run's
   * steps all go to one of them, `shardOf(runId)`). To grow a pool, add shards and raise
   * `activeShards`; to shrink it, lower `activeShards` and keep the others until they drain.
   * Empty for an external pool, whose steps wait in its Pool object for HTTP workers.
   */
  shards: readonly QueueShard[];
  activeShards: number;
  /** Default per-attempt timeout for steps of this pool. */
  defaultTimeoutMs: number;
}

/** `count` shards of a pool: shard 0 is `factory-<pool>` (the name before sharding), then `-1`, `-2`… */
function queueShards(pool: PoolName, count: number): QueueShard[] {
  return Array.from({ length: count }, (_, i) => {
    const queue = i === 0 ? `factory-${pool}` : `factory-${pool}-${i}`;
    const binding = (i === 0 ? `QUEUE_${pool.toUpperCase()}` : `QUEUE_${pool.toUpperCase()}_${i}`) as QueueBinding;
    return { queue, deadLetterQueue: `${queue}-dlq`, binding };
  });
}

export const POOL_REGISTRY: Record<PoolName, PoolDeclaration> = {
  repo: { name: "repo", shards: queueShards("repo", 1), activeShards: 1, defaultTimeoutMs: 120_000 },
  pipeline: { name: "pipeline", shards: queueShards("pipeline", 1), activeShards: 1, defaultTimeoutMs: 60_000 },
  saas: { name: "saas", shards: queueShards("saas", 1), activeShards: 1, defaultTimeoutMs: 120_000 },
  // Model calls are slow and rate-limited upstream: longer timeout, fewer concurrent consumers.
  agent: { name: "agent", shards: queueShards("agent", 1), activeShards: 1, defaultTimeoutMs: 300_000 },
  // Workers outside Cloudflare lease these steps over HTTP (POST /v1/pools/external/leases).
  external: { name: "external", shards: [], activeShards: 0, defaultTimeoutMs: 600_000 },
  // Approval gates and signals wait in the run's own object: nothing is dispatched, so no queue.
  control: { name: "control", shards: [], activeShards: 0, defaultTimeoutMs: 30 * 86_400_000 },
  // Sharded in every environment, so that the tests, the chaos drill and the benchmark exercise
  // what a busy production pool needs (docs/capacity.md).
  system: { name: "system", shards: queueShards("system", 4), activeShards: 4, defaultTimeoutMs: 60_000 },
  // Pushes and REST calls to customers' Git hosts and Azure DevOps (docs/delivery.md).
  delivery: { name: "delivery", shards: queueShards("delivery", 1), activeShards: 1, defaultTimeoutMs: 120_000 },
};

/** Pools served by workers outside Cloudflare, over the pull API. */
export const EXTERNAL_POOLS = ["external"] as const satisfies readonly PoolName[];

/** Whether a pool's steps travel through queues (false: an external pool, or the control pool its run's object serves). */
export const hasQueues = (pool: PoolName): boolean => POOL_REGISTRY[pool].shards.length > 0;

/** Which of `count` shards a key belongs to: FNV-1a, so every caller agrees without a lookup. */
export function shardOf(key: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return count > 0 ? h % count : 0;
}

/** The queue a run's steps of a pool go to, among the Worker's bindings, or null for an external pool. */
export function queueFor<Q>(bindings: Readonly<Record<QueueBinding, Q>>, pool: PoolName, runId: string): Q | null {
  const declared = POOL_REGISTRY[pool];
  const shard = declared.shards[shardOf(runId, declared.activeShards)];
  return shard ? bindings[shard.binding] : null;
}
