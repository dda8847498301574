/**
 * The closed vocabulary of the runtime: every status and event type that exists.
 * Everything else (zod enums, state machines, the OpenAPI spec) is derived from these tuples.
 */

export const RUN_STATUSES = [
  "requested",
  "validated",
  "queued",
  "running",
  "paused",
  "succeeded",
  "failed",
  "cancelled",
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** A run in one of these states never changes again. */
export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(["succeeded", "failed", "cancelled"]);

export const STEP_STATUSES = [
  "pending",
  "queued",
  "running",
  "retrying",
  /** A control-plane step (approval, signal) waiting for a decision or a signal: no attempt, no worker. */
  "waiting",
  "succeeded",
  "failed",
  "cancelled",
  "skipped",
] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const TERMINAL_STEP_STATUSES: ReadonlySet<StepStatus> = new Set(["succeeded", "failed", "cancelled", "skipped"]);

/** How one attempt of a step ended (or that it has not yet). */
export const ATTEMPT_STATUSES = [
  "dispatched",
  "running",
  "succeeded",
  "failed",
  "timed_out",
  "lost",
  "superseded",
  // Not attempted: the dependency's circuit breaker was open (not counted against the retry policy).
  "held",
  // Given back by its worker (graceful shutdown): dispatched again, not counted against the retry policy.
  "released",
] as const;
export type AttemptStatus = (typeof ATTEMPT_STATUSES)[number];

export const EVENT_TYPES = [
  "run.requested",
  "run.validated",
  "run.queued",
  "run.started",
  "run.succeeded",
  "run.failed",
  "run.cancelled",
  "run.paused",
  "run.resumed",
  "run.retried",
  /** The tenant let the run in, and it waits for a flow-control key's slot (`data.reason`, `data.key`). */
  "run.waiting",
  /** A delivery step succeeded: where the output landed (remote, branch, commit, pull request, pipeline, build). */
  "run.delivered",
  "step.queued",
  "step.started",
  "step.succeeded",
  "step.retrying",
  "step.failed",
  "step.cancelled",
  "step.skipped",
  "step.lease_expired",
  "step.held",
  "step.released",
  // A step of a tenant pool that no live worker could take for limits.unroutableAfterMs (noted once; it keeps waiting).
  "step.unroutable",
  "step.spawned",
  "step.log",
  "step.reused",
  "step.result_refused",
  "step.waiting",
  "step.approved",
  "step.rejected",
  "step.approval_expired",
  "step.signal_received",
  "artifact.created",
  "artifact.scanned",
  "artifact.secret_detected",
  // Text the run was told (an output, a log line, a signal body, …) held a secret: stored redacted.
  "secret.redacted",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Events of a tenant rather than of one run (its budgets, its dependencies): webhooks hear them, no run logs them. */
export const TENANT_EVENT_TYPES = [
  "budget.threshold_crossed",
  "dependency.circuit_opened",
  "dependency.circuit_closed",
  "schedule.fire_refused",
] as const;
export type TenantEventType = (typeof TENANT_EVENT_TYPES)[number];

/** What a step failing for good does to the rest of its run. */
export const FAILURE_POLICIES = ["fail-fast", "continue"] as const;
export type FailurePolicy = (typeof FAILURE_POLICIES)[number];

/** Admission order among a tenant's waiting runs. */
export const PRIORITIES = ["high", "normal", "low"] as const;
export type Priority = (typeof PRIORITIES)[number];

/** `control`: steps the run's own object handles (approval gates, signals); no queue, no worker. */
export const POOLS = ["repo", "pipeline", "saas", "agent", "system", "external", "control", "delivery"] as const;
export type PoolName = (typeof POOLS)[number];

/** What a run let in by its tenant may still wait for before it starts (schema/flow.ts). */
export const FLOW_WAIT_REASONS = ["concurrency.key", "rate.key", "debounce"] as const;
export type FlowWaitReason = (typeof FLOW_WAIT_REASONS)[number];
