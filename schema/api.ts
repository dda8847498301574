/**
 * HTTP contracts of the v1 API. The OpenAPI document (schema/openapi.json) is generated from
 * these schemas; handlers validate with them, so the spec and the behaviour cannot drift.
 */
import { z } from "@hono/zod-openapi";
import { EVENT_TYPES, FAILURE_POLICIES, PRIORITIES, RUN_STATUSES, STEP_STATUSES } from "./vocabulary";
import { RUN_ID, TENANT_ID } from "./ids";
import { ARTIFACT_STATUSES, ArtifactScan, Finding, NotScanned } from "./scanning";
import { Lineage } from "./artifacts";
import { BreakerView } from "./breakers";
import { Metadata, RunLabelsView, SearchQueryFields, Tags } from "./search";
import { RunConcurrency, RunWaiting, StepConcurrency, StepRateLimit, StepWaiting } from "./flow";
import { RunDebounceSpec } from "./debounce";

export const LIMITS = {
  bodyBytes: 1024 * 1024,
  stepsPerRun: 1000,
  /** How deep spawned steps may spawn again (a run's own steps are depth 0). */
  spawnDepth: 3,
  dependsOnPerStep: 256,
  inputBytes: 256 * 1024,
  outputBytes: 256 * 1024,
  maxAttempts: 20,
  delayMs: 24 * 60 * 60 * 1000,
  timeoutMs: { min: 100, max: 60 * 60 * 1000 },
  deadlineMs: { min: 1000, max: 7 * 24 * 60 * 60 * 1000 },
} as const;

export const StepId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "letters, digits, '_', '.', '-'; at most 64; starts alphanumeric")
  .openapi({ example: "scaffold" });

export const ProjectId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "letters, digits, '_', '.', '-'; at most 64; starts alphanumeric")
  .openapi({ example: "billing" });

export const RunId = z
  .string()
  .regex(RUN_ID, "a run id such as run_01jd…")
  .openapi({ example: "run_01jdz3k7m9q2w8e4r6t0y1u3i5" });

export const ArtifactName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "letters, digits, '_', '.', '-'; starts alphanumeric")
  .refine((s) => !s.includes(".."), "must not contain '..'")
  .openapi({ example: "billing-api.zip" });

/** Any JSON value: what inputs, outputs and event data are (and what survives RPC and queues). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };
// Bodies arrive through JSON.parse, so a record of `unknown` accepts exactly JSON objects; a
// recursive zod schema would send the OpenAPI generator into unbounded recursion.
const JsonObjectSchema = z.record(z.string(), z.unknown());

export const RetrySpec = z
  .object({
    maxAttempts: z.number().int().min(1).max(LIMITS.maxAttempts).optional(),
    initialDelayMs: z.number().int().min(0).max(LIMITS.delayMs).optional(),
    maxDelayMs: z.number().int().min(0).max(LIMITS.delayMs).optional(),
  })
  .strict()
  .refine((r) => r.initialDelayMs === undefined || r.maxDelayMs === undefined || r.initialDelayMs <= r.maxDelayMs, {
    message: "initialDelayMs must not exceed maxDelayMs",
  })
  .openapi("RetrySpec", { description: "Exponential backoff with full jitter between initialDelayMs and maxDelayMs." });
export type RetrySpec = z.infer<typeof RetrySpec>;

export const StepSpec = z
  .object({
    id: StepId,
    type: z.string().min(1).max(64).openapi({ example: "system.echo" }),
    input: JsonObjectSchema.default({}),
    dependsOn: z.array(StepId).max(LIMITS.dependsOnPerStep).default([]),
    retry: RetrySpec.optional(),
    timeoutMs: z.number().int().min(LIMITS.timeoutMs.min).max(LIMITS.timeoutMs.max).optional(),
    heartbeatTimeoutMs: z
      .number()
      .int()
      .min(LIMITS.timeoutMs.min)
      .max(LIMITS.timeoutMs.max)
      .optional()
      .openapi({ description: "a running attempt that does not heartbeat for this long is presumed dead" }),
    concurrency: StepConcurrency.optional(),
    rateLimit: StepRateLimit.optional(),
  })
  .strict()
  .openapi("StepSpec");
export type StepSpec = z.infer<typeof StepSpec>;

export const CreateRunBody = z
  .object({
    project: ProjectId,
    blueprint: z.string().min(1).max(64).optional().openapi({ example: "microservice" }),
    input: JsonObjectSchema.optional().openapi({ example: { name: "billing-api" } }),
    steps: z.array(StepSpec).min(1).max(LIMITS.stepsPerRun).optional(),
    deadlineMs: z.number().int().min(LIMITS.deadlineMs.min).max(LIMITS.deadlineMs.max).optional(),
    failurePolicy: z
      .enum(FAILURE_POLICIES)
      .default("fail-fast")
      .openapi({ description: "fail-fast: one failed step fails the run; continue: independent branches go on" }),
    priority: z
      .enum(PRIORITIES)
      .default("normal")
      .openapi({ description: "order among the tenant's runs waiting for a concurrency slot" }),
    callback: z
      .object({
        url: z.string().min(1).max(2048),
        eventTypes: z.array(z.string().max(64)).min(1).max(50).default(["run.*"]),
      })
      .strict()
      .optional()
      .openapi({
        description: "a webhook endpoint for this run only; its signing secret comes back once, in the answer",
      }),
    tags: Tags.optional(),
    metadata: Metadata.optional(),
    concurrency: RunConcurrency.optional(),
    debounce: RunDebounceSpec.optional(),
  })
  .strict()
  .refine((b) => (b.blueprint === undefined) !== (b.steps === undefined), {
    message: "give exactly one of `blueprint` or `steps`",
    path: ["blueprint"],
  })
  .openapi("CreateRunBody");
export type CreateRunBody = z.infer<typeof CreateRunBody>;
/** What a caller may send (defaults not yet applied). */
export type CreateRunInput = z.input<typeof CreateRunBody>;

export const StepError = z
  .object({
    code: z.string(),
    message: z.string(),
    retryable: z.boolean(),
  })
  .openapi("StepError");
export type StepError = z.infer<typeof StepError>;

const Timestamp = z.string().datetime().nullable();

export const StepView = z
  .object({
    id: StepId,
    type: z.string(),
    pool: z.string(),
    status: z.enum(STEP_STATUSES),
    dependsOn: z.array(z.string()),
    attempts: z.number().int().openapi({ description: "attempts dispatched so far" }),
    queuedAt: Timestamp,
    startedAt: Timestamp,
    finishedAt: Timestamp,
    durationMs: z.number().int().nullable(),
    error: StepError.nullable(),
    waitReason: z
      .enum(["approval", "signal", "sleep"])
      .optional()
      .openapi({ description: "what a `waiting` step waits for (docs/schedules-and-triggers.md)" }),
    concurrency: StepConcurrency.optional().openapi({ description: "the step's concurrency key, resolved" }),
    rateLimit: StepRateLimit.optional().openapi({ description: "the step's rate key, resolved" }),
    waiting: StepWaiting.optional(),
    // Typed `unknown` here and `Json` on the wire (see WireRun): hono's response typing
    // recurses without bound on a recursive JSON type.
    output: z.unknown().optional(),
  })
  .openapi("Step");
export type StepView = z.infer<typeof StepView>;

/** What started a run (docs/schedules-and-triggers.md). */
export const RunOrigin = z
  .object({
    kind: z.enum(["api", "schedule", "event", "retry"]),
    id: z
      .string()
      .nullable()
      .openapi({ description: "the schedule's id, the event's id, or the run a retry re-runs; null for the API" }),
    fireTime: z.string().datetime().optional().openapi({ description: "a schedule's fire time this run is for" }),
    triggerId: z.string().optional().openapi({ description: "the trigger an event matched" }),
  })
  .openapi("RunOrigin");
export type RunOrigin = z.infer<typeof RunOrigin>;

export const RunView = z
  .object({
    id: RunId,
    project: ProjectId,
    blueprint: z.string().nullable(),
    status: z.enum(RUN_STATUSES),
    traceId: z.string(),
    traceUrl: z
      .string()
      .nullable()
      .optional()
      .openapi({ description: "the run's trace in the deployment's viewer (TRACE_URL_TEMPLATE), when one is set" }),
    createdAt: z.string().datetime(),
    startedAt: Timestamp,
    finishedAt: Timestamp,
    deadlineAt: Timestamp,
    failurePolicy: z.enum(FAILURE_POLICIES),
    priority: z.enum(PRIORITIES),
    retryOf: z.string().nullable().openapi({ description: "the run this one re-runs" }),
    retriedAs: z.string().nullable().openapi({ description: "the run that re-runs this one" }),
    error: StepError.nullable(),
    archivedAt: z.string().datetime().nullable().openapi({
      description: "when the finished run was archived to R2 (its hot period ended); it is then read from the archive",
    }),
    origin: RunOrigin,
    ...RunLabelsView,
    concurrency: z
      .array(z.object({ key: z.string(), limit: z.number().int() }))
      .optional()
      .openapi({
        description: "the run's concurrency keys as resolved at creation",
      }),
    waiting: RunWaiting.optional(),
    steps: z.array(StepView),
  })
  .openapi("Run");
export type RunView = z.infer<typeof RunView>;

export const CreatedRun = RunView.extend({
  callback: z
    .object({ endpointId: z.string(), secret: z.string() })
    .optional()
    .openapi({ description: "the run's callback endpoint and its signing secret, shown only here" }),
}).openapi("CreatedRun");
export type CreatedRun = z.infer<typeof CreatedRun>;

/** A run as the Run DO returns it over RPC: the same shape, with outputs typed as JSON. */
export type WireRun = Omit<RunView, "steps"> & { steps: WireStep[] };
export type WireStep = Omit<StepView, "output"> & { output?: Json };

export const RunSummary = z
  .object({
    id: RunId,
    project: ProjectId,
    blueprint: z.string().nullable(),
    status: z.enum(RUN_STATUSES),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
    archivedAt: z
      .string()
      .datetime()
      .nullable()
      .openapi({ description: "when the finished run was archived to R2 (its retention's hot period ended)" }),
    ...RunLabelsView,
  })
  .openapi("RunSummary");
export type RunSummary = z.infer<typeof RunSummary>;

export const RunList = z.object({ items: z.array(RunSummary), nextCursor: z.string().nullable() }).openapi("RunList");
export type RunList = z.infer<typeof RunList>;

export const ListRunsQuery = z.object({
  project: ProjectId.optional(),
  ...SearchQueryFields,
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export const EventEnvelope = z
  .object({
    eventId: z.string(),
    seq: z.number().int(),
    type: z.enum(EVENT_TYPES),
    tenantId: z.string(),
    projectId: z.string(),
    runId: z.string(),
    stepId: z.string().optional(),
    traceId: z.string(),
    occurredAt: z.string().datetime(),
    data: z.record(z.string(), z.unknown()),
    tags: z.array(z.string()).optional().openapi({ description: "the run's tags, on every event of a tagged run" }),
    metadata: z.record(z.string(), z.string()).optional().openapi({ description: "the run's metadata, if it has any" }),
  })
  .openapi("Event");
export type EventEnvelope = z.infer<typeof EventEnvelope>;
export type WireEvent = Omit<EventEnvelope, "data"> & { data: JsonObject };

export const EventPage = z
  .object({
    items: z.array(EventEnvelope),
    nextAfter: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "pass as `after` for the next page; null on the last page" }),
    finished: z.boolean().openapi({ description: "the run is over and this page holds its last events" }),
  })
  .openapi("EventPage");

export type EventPage = z.infer<typeof EventPage>;

export const EventsQuery = z.object({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

export const ArtifactView = z
  .object({
    name: ArtifactName,
    size: z.number().int(),
    contentType: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    stepId: z.string(),
    attempt: z.number().int(),
    createdAt: z.string().datetime(),
    status: z.enum(ARTIFACT_STATUSES).openapi({
      description:
        "validated (scanned clean, or findings accepted or only warned about), rejected, published (its run succeeded)",
    }),
    flagged: z.boolean().openapi({ description: "kept under the warn policy although it has findings" }),
    scan: ArtifactScan.nullable().openapi({ description: "the secret scan; null when written before scanning" }),
    lineage: Lineage,
  })
  .openapi("Artifact");
export type ArtifactView = z.infer<typeof ArtifactView>;

export const ArtifactList = z.object({ items: z.array(ArtifactView) }).openapi("ArtifactList");
export type ArtifactList = z.infer<typeof ArtifactList>;

export const MetricsQuery = z.object({
  from: z.string().datetime().optional().openapi({ description: "runs created at or after; default 30 days ago" }),
  to: z.string().datetime().optional().openapi({ description: "runs created before; default now" }),
});

export const USAGE_GROUPS = ["project", "blueprint", "day", "pool"] as const;

export const UsageQuery = z.object({
  from: z.string().datetime().optional().openapi({ description: "runs created at or after; default 30 days ago" }),
  to: z.string().datetime().optional().openapi({ description: "runs created before; default now" }),
  groupBy: z.enum(USAGE_GROUPS).default("project"),
});

const Count = z.number().int();
const ModelTokens = z.record(z.string(), z.object({ tokensIn: z.number(), tokensOut: z.number() }));

const usageFields = {
  steps: Count.openapi({ description: "steps that ran (carried-over steps of a retry are not counted again)" }),
  attempts: Count,
  wallMs: Count.openapi({ description: "sum of attempt execution times" }),
  cpuMs: z.number().openapi({
    description:
      "estimated handler CPU time: a per-attempt and per-byte model (Workers expose no CPU clock to code; see README)",
  }),
  artifactBytes: Count,
  tokensIn: Count.openapi({ description: "AI tokens in, as metered by agent steps" }),
  tokensOut: Count,
  models: ModelTokens.openapi({ description: "AI tokens per model" }),
  queueOps: Count.openapi({ description: "queue operations (write, read, delete per queued attempt)" }),
  objectCalls: Count.openapi({ description: "Durable Object calls made for attempts (begin, report, heartbeats)" }),
  r2Writes: Count.openapi({ description: "R2 writes (artifacts)" }),
  costUsd: z.number().openapi({ description: "recorded usage priced by the deployment's price table" }),
};

export const UsageRow = z
  .object({
    key: z.string().openapi({ description: "the project, blueprint, pool, or day (YYYY-MM-DD, UTC)" }),
    runs: Count.openapi({ description: "finished runs; by pool, the runs that used the pool" }),
    succeeded: Count,
    failed: Count,
    ...usageFields,
  })
  .openapi("UsageRow");

const Usd = z.number().min(0);
export const PriceTable = z
  .object({
    perAttemptUsd: Usd.openapi({
      description: "each dispatched attempt (a gate waiting for a decision or a signal makes none: waiting is free)",
    }),
    perExecutionSecondUsd: Usd.openapi({ description: "each second of step execution (wall time)" }),
    perMillionCpuMsUsd: Usd.openapi({ description: "a million ms of estimated handler CPU time" }),
    perArtifactGbUsd: Usd.openapi({ description: "each GB of artifacts written" }),
    perMillionQueueOpsUsd: Usd,
    perMillionObjectCallsUsd: Usd,
    perMillionR2WritesUsd: Usd,
    perMillionTokensInUsd: Usd.openapi({ description: "tokens of models without a price of their own" }),
    perMillionTokensOutUsd: Usd,
    perDoStorageGbMonthUsd: Usd.openapi({
      description: "a GB-month of Durable Object (SQLite) storage: hot runs' state and the tenant's own",
    }),
    perR2StorageGbMonthUsd: Usd.openapi({ description: "a GB-month of R2 storage: archives and artifacts" }),
    models: z
      .record(z.string(), z.object({ inUsd: Usd, outUsd: Usd }).strict())
      .openapi({ description: "per-model token prices per million, overriding the flat ones" }),
  })
  .strict()
  .openapi("PriceTable");
export type PriceTable = z.infer<typeof PriceTable>;

export const RunUsageView = z
  .object({
    runId: z.string(),
    final: z.boolean().openapi({ description: "true once the run has ended; before that, usage so far" }),
    ...usageFields,
    waitingMs: Count.openapi({
      description:
        "time the run's gates (approval, signal steps) waited for a decision or a signal, apart from wallMs; it uses no attempt and no CPU, and costs nothing",
    }),
    pools: z.record(z.string(), z.object(usageFields)).openapi({ description: "the same, per pool" }),
  })
  .openapi("RunUsage");
export type RunUsageView = z.infer<typeof RunUsageView>;

export const UsageReport = z
  .object({
    from: z.string().datetime(),
    to: z.string().datetime(),
    groupBy: z.enum(USAGE_GROUPS),
    prices: PriceTable.openapi({ description: "the price table the costs use" }),
    totalCostUsd: z.number(),
    items: z.array(UsageRow),
    storage: z
      .object({
        runStateBytes: Count.openapi({
          description: "finished runs' state still hot in their objects (as each reported when it finished)",
        }),
        archiveBytes: Count.openapi({ description: "archived runs' archives in R2" }),
        artifactBytes: Count.openapi({ description: "artifacts kept in R2 (unpublished ones until they expire)" }),
        monthlyCostUsd: z.number().openapi({ description: "what holding this for a month costs at the price table" }),
      })
      .openapi({ description: "what the tenant holds now, whatever the window: it is not usage of the window" }),
  })
  .openapi("UsageReport");
export type UsageReport = z.infer<typeof UsageReport>;

const Ms = z.number().nullable();
export const Metrics = z
  .object({
    from: z.string().datetime(),
    to: z.string().datetime(),
    runs: z.object({
      finished: z.number().int(),
      counted: z.number().int(),
      succeeded: z.number().int(),
      failed: z.number().int(),
      cancelled: z.number().int(),
    }),
    successRate: z.number().nullable().openapi({
      description:
        "succeeded / (succeeded + failed), after automatic retries; validation failures and cancels excluded",
    }),
    durationMs: z.object({ p50: Ms, p95: Ms, p99: Ms }),
    queueWaitMs: z
      .object({ p50: Ms, p95: Ms })
      .openapi({ description: "submission to start: time waiting for admission" }),
    withinExpectedTime: z
      .number()
      .nullable()
      .openapi({ description: "share of blueprint runs that succeeded within the blueprint's expected time" }),
    retryRate: z.number().nullable().openapi({ description: "extra attempts per step" }),
    now: z.object({ running: z.number().int(), waiting: z.number().int() }),
    pools: z
      .array(
        z.object({ pool: z.string(), queued: z.number().int(), running: z.number().int(), retrying: z.number().int() }),
      )
      .openapi({
        description: "backlog per pool: steps of running runs dispatched and waiting, running, or waiting to retry",
      }),
    webhooks: z.object({
      deliveries: z.object({ succeeded: z.number().int(), failed: z.number().int(), pending: z.number().int() }),
      successRate: z
        .number()
        .nullable()
        .openapi({ description: "deliveries that succeeded (after retries) / deliveries that finished" }),
      attempts: z.number().int(),
      attemptSuccessRate: z.number().nullable().openapi({ description: "attempts answered 2xx / attempts" }),
    }),
    approvals: z.object({
      pending: z.number().int().openapi({ description: "approval gates waiting for a decision now" }),
      decided: z.number().int().openapi({ description: "gates decided (or expired) in the window" }),
      waitMs: z
        .object({ p50: Ms, p95: Ms })
        .openapi({ description: "request to decision of the gates decided in the window (waiting costs nothing)" }),
    }),
    breakers: z.array(BreakerView).openapi({
      description: "the circuit breaker of each external dependency that ever changed state: state and transitions",
    }),
  })
  .openapi("Metrics");
export type Metrics = z.infer<typeof Metrics>;

export const PlatformMetrics = Metrics.extend({
  tenants: z.number().int().openapi({ description: "tenants the metrics cover" }),
  externalPools: z
    .record(z.string(), z.object({ waiting: z.number().int(), oldestAgeMs: z.number().int().nullable() }))
    .openapi({ description: "each external pool's lease backlog (queue pools autoscale on Cloudflare)" }),
}).openapi("PlatformMetrics");

export const BlueprintView = z
  .object({
    name: z.string(),
    description: z.string(),
    input: z.record(z.string(), z.unknown()).openapi({ description: "JSON Schema of the blueprint's input" }),
  })
  .openapi("Blueprint");

export const BlueprintList = z.object({ items: z.array(BlueprintView) }).openapi("BlueprintList");
export type BlueprintList = z.infer<typeof BlueprintList>;

/** The budget a refused run met (budget.exceeded). */
export const ExceededBudget = z
  .object({
    month: z.string().openapi({ example: "2026-12" }),
    project: z.string().nullable().openapi({ description: "null: the tenant-wide budget" }),
    limitUsd: z.number(),
    spentUsd: z.number(),
  })
  .openapi("ExceededBudget");
export type ExceededBudget = z.infer<typeof ExceededBudget>;

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.string().openapi({ example: "run.not_found" }),
    detail: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    findings: z
      .array(Finding)
      .optional()
      .openapi({ description: "artifact.rejected: what the secret scan found (never the secret)" }),
    notScanned: z.array(NotScanned).optional().openapi({ description: "artifact.rejected: what was not scanned" }),
    budget: ExceededBudget.optional().openapi({ description: "budget.exceeded: the budget the run met" }),
  })
  .openapi("Problem");
export type Problem = z.infer<typeof Problem>;

export const TenantId = z
  .string()
  .regex(TENANT_ID, "lowercase letters, digits and '-'; 2 to 40")
  .openapi({ example: "acme" });

// ── approval gates and signals ─────────────────────────────────────────────────

export const DecisionBody = z
  .object({ comment: z.string().max(2000).optional().openapi({ description: "kept with the decision" }) })
  .strict()
  .openapi("DecisionBody");
export type DecisionBody = z.infer<typeof DecisionBody>;

export const Decider = z
  .object({
    kind: z.enum(["key", "link", "timeout"]),
    keyId: z.string().optional(),
    name: z.string().nullable().optional(),
    linkId: z.string().optional(),
    issuedTo: z.string().optional().openapi({ description: "a link's: the key it was issued to" }),
  })
  .openapi("Decider", { description: "who decided: an API key (id and name), a signed link (its id), or the timeout" });

export const DecisionView = z
  .object({
    runId: RunId,
    stepId: StepId,
    decision: z.enum(["approved", "rejected"]),
    by: Decider,
    comment: z.string().nullable(),
    decidedAt: z.string().datetime(),
    repeated: z.boolean().openapi({ description: "true when the same decision was recorded earlier" }),
  })
  .openapi("Decision");
export type DecisionView = z.infer<typeof DecisionView>;

export const DecisionLinksView = z
  .object({
    approveUrl: z.string(),
    rejectUrl: z.string(),
    expiresAt: z.string().datetime().openapi({ description: "the gate's timeout: the links end with it" }),
  })
  .openapi("DecisionLinks");

export const SignalView = z
  .object({
    name: z.string(),
    receivedAt: z.string().datetime(),
    consumedBy: z.array(StepId).openapi({ description: "steps the signal completed now; empty while none waits yet" }),
    repeated: z.boolean(),
  })
  .openapi("SignalReceipt");
export type SignalView = z.infer<typeof SignalView>;

export const APPROVAL_STATUSES = ["pending", "approved", "rejected", "expired", "cancelled"] as const;

export const ApprovalView = z
  .object({
    runId: RunId,
    stepId: StepId,
    project: ProjectId,
    title: z.string(),
    status: z.enum(APPROVAL_STATUSES),
    requestedAt: z.string().datetime(),
    expiresAt: z.string().datetime().nullable(),
    decidedAt: z.string().datetime().nullable(),
    by: Decider.nullable(),
    comment: z.string().nullable(),
  })
  .openapi("Approval");
export type ApprovalView = z.infer<typeof ApprovalView>;

export const ApprovalList = z
  .object({ items: z.array(ApprovalView), nextCursor: z.string().nullable() })
  .openapi("ApprovalList");
export type ApprovalList = z.infer<typeof ApprovalList>;

export const ListApprovalsQuery = z.object({
  status: z.enum(["pending", "decided"]).default("pending"),
  project: ProjectId.optional(),
  cursor: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
