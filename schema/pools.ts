/**
 * The worker pools: one queue (and one dead-letter queue) each, or none for an external pool.
 * A contract between the planes: the control plane dispatches to these queues, the data plane
 * consumes them. The single source of truth for pool → queue; a test checks wrangler.toml against it.
 */
import type { PoolName } from "./vocabulary";

/** The Worker's binding names of the pools' queues. */
export type QueueBinding = "QUEUE_REPO" | "QUEUE_PIPELINE" | "QUEUE_SAAS" | "QUEUE_AGENT" | "QUEUE_SYSTEM";

export interface PoolDeclaration {
  name: PoolName;
  queue: string;
  deadLetterQueue: string;
  /** The pool's queue; null for an external pool, whose steps wait in its Pool object for HTTP workers. */
  binding: QueueBinding | null;
  /** Default per-attempt timeout for steps of this pool. */
  defaultTimeoutMs: number;
}

export const POOL_REGISTRY: Record<PoolName, PoolDeclaration> = {
  repo: {
    name: "repo",
    queue: "factory-repo",
    deadLetterQueue: "factory-repo-dlq",
    binding: "QUEUE_REPO",
    defaultTimeoutMs: 120_000,
  },
  pipeline: {
    name: "pipeline",
    queue: "factory-pipeline",
    deadLetterQueue: "factory-pipeline-dlq",
    binding: "QUEUE_PIPELINE",
    defaultTimeoutMs: 60_000,
  },
  saas: {
    name: "saas",
    queue: "factory-saas",
    deadLetterQueue: "factory-saas-dlq",
    binding: "QUEUE_SAAS",
    defaultTimeoutMs: 120_000,
  },
  // Model calls are slow and rate-limited upstream: longer timeout, fewer concurrent consumers.
  agent: {
    name: "agent",
    queue: "factory-agent",
    deadLetterQueue: "factory-agent-dlq",
    binding: "QUEUE_AGENT",
    defaultTimeoutMs: 300_000,
  },
  // Workers outside Cloudflare lease these steps over HTTP (POST /v1/pools/external/leases).
  external: { name: "external", queue: "", deadLetterQueue: "", binding: null, defaultTimeoutMs: 600_000 },
  // Approval gates and signals wait in the run's own object: nothing is dispatched, so no queue.
  control: { name: "control", queue: "", deadLetterQueue: "", binding: null, defaultTimeoutMs: 30 * 86_400_000 },
  system: {
    name: "system",
    queue: "factory-system",
    deadLetterQueue: "factory-system-dlq",
    binding: "QUEUE_SYSTEM",
    defaultTimeoutMs: 60_000,
  },
};

/** Pools served by workers outside Cloudflare, over the pull API. */
export const EXTERNAL_POOLS = ["external"] as const satisfies readonly PoolName[];

/** The pool's queue among the Worker's bindings (its `Env`), or null for an external pool. */
export function queueFor<Q>(bindings: Readonly<Record<QueueBinding, Q>>, pool: PoolName): Q | null {
  const binding = POOL_REGISTRY[pool].binding;
  return binding ? bindings[binding] : null;
}
