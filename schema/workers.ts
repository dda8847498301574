/**
 * Contracts of a tenant's own workers (issue 27): its pools, their worker tokens and live workers,
 * and its job types (JSON Schemas for input and output, versions pinned by runs). The lease body's
 * routing fields are the wire contract the worker SDKs rely on.
 */
import { StepConcurrency, StepRateLimit } from "./flow";
import { z } from "@hono/zod-openapi";
import { POOLS } from "./vocabulary";

/** A tenant pool's name: never a built-in pool's (those are the runtime's own). */
export const TENANT_POOL = /^[a-z][a-z0-9-]{0,39}$/;
export const TenantPoolName = z
  .string()
  .regex(TENANT_POOL, "lowercase letters, digits and '-', starting with a letter, at most 40")
  .refine((n) => !(POOLS as readonly string[]).includes(n), "a built-in pool's name");

/** Worker labels (`gpu: a100`) and a job type's required labels: small, printable, bounded. */
const LABEL_KEY = /^[a-z][a-z0-9_.-]{0,39}$/;
export const Labels = z
  .record(z.string().regex(LABEL_KEY, "label names: lowercase letters, digits, '_', '.', '-'"), z.string().max(100))
  .refine((l) => Object.keys(l).length <= 20, "at most 20 labels")
  .openapi("WorkerLabels");
export type Labels = z.infer<typeof Labels>;

/** A tenant job type's name: `<namespace>.<name>`, the namespace not a built-in one. */
export const JOB_TYPE_NAME = /^[a-z][a-z0-9-]{0,29}\.[a-z][a-z0-9._-]{0,62}$/;

export const WORKER_LIMITS = {
  /** Pools a tenant may have. */
  pools: 20,
  /** Job types (names, not versions) a tenant may have. */
  jobTypes: 100,
  /** Versions of one job type kept. */
  versions: 100,
  /** A job type's input or output schema, as JSON. */
  schemaBytes: 32 * 1024,
  /** Live tokens of a pool. */
  tokens: 50,
  /** How long a worker counts as live after its last lease call (it long-polls at most 20 s). */
  liveWindowMs: 60_000,
  /** `limits.unroutableAfterMs` when the tenant has none. */
  unroutableAfterMs: 5 * 60_000,
} as const;

export const CreatePoolBody = z
  .object({
    name: TenantPoolName,
    labels: Labels.optional().openapi({
      description: "the pool's own labels, shown to people; routing uses workers' labels",
    }),
  })
  .strict()
  .openapi("CreatePoolBody");
export type CreatePoolBody = z.infer<typeof CreatePoolBody>;

export const PoolView = z
  .object({
    name: z.string(),
    labels: Labels,
    createdAt: z.string().datetime(),
  })
  .openapi("TenantPool");
export type PoolView = z.infer<typeof PoolView>;

export const PoolDetail = PoolView.extend({
  waiting: z.number().int(),
  oldestAgeMs: z.number().int().nullable(),
}).openapi("TenantPoolDetail");

export const TokenView = z
  .object({ id: z.string(), createdAt: z.string().datetime(), revokedAt: z.string().datetime().nullable() })
  .openapi("WorkerToken");
export type TokenView = z.infer<typeof TokenView>;

export const WorkerView = z
  .object({
    id: z.string().openapi({ description: "the worker's own id (`workerId`), or its token's id" }),
    tokenId: z.string(),
    labels: Labels,
    kinds: z.array(z.string()).nullable().openapi({ description: "the job types it takes; null: any" }),
    lastSeen: z.string().datetime(),
    live: z.boolean().openapi({ description: "seen within the live window (60 s)" }),
    inFlight: z.number().int(),
    completed: z.number().int(),
    failed: z.number().int(),
  })
  .openapi("PoolWorker");
export type WorkerView = z.infer<typeof WorkerView>;

/** A JSON Schema (draft-07), checked against the meta-schema when a job type is created. */
const JsonSchema = z.record(z.string(), z.unknown()).openapi({ description: "a JSON Schema (draft-07)" });

const RetryFields = z
  .object({
    maxAttempts: z.number().int().min(1).max(20).optional(),
    initialDelayMs: z.number().int().min(0).max(3_600_000).optional(),
    maxDelayMs: z.number().int().min(0).max(86_400_000).optional(),
  })
  .strict();

export const CreateJobTypeBody = z
  .object({
    name: z.string().regex(JOB_TYPE_NAME, "`<namespace>.<name>`: lowercase letters, digits, '-', '_', '.'"),
    version: z.number().int().min(1).max(1_000_000).optional().openapi({
      description: "greater than every earlier version of this name; the next one when absent",
    }),
    pool: TenantPoolName,
    description: z.string().max(500).optional(),
    input: JsonSchema,
    output: JsonSchema,
    timeoutMs: z.number().int().min(1_000).max(3_600_000).optional(),
    retry: RetryFields.optional(),
    requires: z.object({ labels: Labels }).strict().optional(),
    // A step of this type gets these keys (templates over its input) unless it names its own (docs/flow-control.md).
    concurrency: StepConcurrency.optional(),
    rateLimit: StepRateLimit.optional(),
  })
  .strict()
  .openapi("CreateJobTypeBody");
export type CreateJobTypeBody = z.infer<typeof CreateJobTypeBody>;

export const JobTypeVersion = z
  .object({
    name: z.string(),
    version: z.number().int(),
    pool: z.string(),
    description: z.string().nullable(),
    input: JsonSchema,
    output: JsonSchema,
    timeoutMs: z.number().int().nullable(),
    retry: RetryFields.nullable(),
    requires: z.object({ labels: Labels }),
    concurrency: StepConcurrency.optional(),
    rateLimit: StepRateLimit.optional(),
    createdAt: z.string().datetime(),
  })
  .openapi("JobTypeVersion");
export type JobTypeVersion = z.infer<typeof JobTypeVersion>;

/** What a run pins of a tenant job type, per step: enough to route, time and check it without the registry. */
export interface PinnedJobType {
  pool: string;
  version: number;
  requires: Labels;
  output: Record<string, unknown>;
}

/** The lease body (the SDKs' contract): what the worker can do, and who it is. */
export const LeaseBody = z
  .object({
    waitMs: z.number().int().min(0).max(20_000).default(10_000),
    kinds: z.array(z.string().min(1).max(100)).max(100).optional().openapi({
      description: "the job types this worker runs; absent: any",
    }),
    labels: Labels.optional().openapi({
      description: "what this worker has: steps whose job type requires labels need them",
    }),
    workerId: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/)
      .optional()
      .openapi({
        description: "the worker's own stable id, for GET /v1/pools/{pool}/workers (its token's id when absent)",
      }),
  })
  .strict()
  .openapi("LeaseBody");
export type LeaseBody = z.infer<typeof LeaseBody>;

/** What a worker leasing says it can do, as the pool object matches steps against it. */
export interface Capabilities {
  kinds: string[] | null;
  labels: Labels;
  workerId: string;
}

/** Whether a worker with `labels` satisfies every required label. */
export function satisfies(labels: Labels, requires: Labels): boolean {
  return Object.entries(requires).every(([k, v]) => labels[k] === v);
}
