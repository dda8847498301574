/** What crosses the Run DO's boundary: run specs, worker reports, and the answers to them. */
import type { Json, JsonObject } from "../../../schema/api";
import type { StepMessage } from "../../../schema/messages";
import type { FailurePolicy, PoolName, Priority, RunStatus } from "../../../schema/vocabulary";
import type { ErrorShape } from "../../errors";
import type { Refusal } from "../../../schema/errors";
import type { ReportedUsage, RunUsage } from "../../analytics/usage";

import type { RetryPolicy } from "./machine";

export type { RetryPolicy };

export interface ResolvedStep {
  id: string;
  type: string;
  pool: PoolName;
  input: JsonObject;
  dependsOn: string[];
  retry: RetryPolicy;
  timeoutMs: number;
  /** When set, a running attempt that has not heartbeated for this long is presumed dead. */
  heartbeatTimeoutMs?: number;
}

/** A step carried over, already succeeded, from the run that a retry re-runs. */
export interface CarriedStep {
  output: Json;
  artifacts: ArtifactReport[];
  attempt: number;
}

export interface NewRun {
  id: string;
  tenantId: string;
  project: string;
  blueprint: string | null;
  traceId: string;
  failurePolicy: FailurePolicy;
  priority: Priority;
  deadlineMs?: number;
  steps: ResolvedStep[];
  /** Set on a retry: the run it re-runs, and the steps that succeeded there. */
  retryOf?: { runId: string; carried: Record<string, CarriedStep> };
  /**
   * Set when the tenant indexed the run before its creation (TenantObject.openRun) and said
   * whether it starts now; `createdAt` is then the time the tenant recorded.
   */
  opened?: { start: boolean };
  createdAt?: number;
}

export interface ArtifactReport {
  name: string;
  key: string;
  size: number;
  contentType: string;
  sha256: string;
}

export type StepReport =
  | (ReportCommon & { outcome: "succeeded"; output: Json; artifacts: ArtifactReport[]; spawn?: ResolvedStep[] })
  | (ReportCommon & { outcome: "failed"; error: ErrorShape });

/** What any attempt reports besides its outcome. */
export interface ReportCommon {
  stepId: string;
  attempt: number;
  logs?: { level: "info" | "warn" | "error"; message: string; fields?: JsonObject }[];
  usage?: ReportedUsage;
}

export type { Refusal };

export type BeginResult =
  | {
      ok: true;
      input: JsonObject;
      upstream: JsonObject;
      timeoutMs: number;
      tenantId: string;
      traceId: string;
    }
  | Refusal;

/** The next attempt in the reporter's pool, begun for it at once (see RunEngine.continueIn). */
export interface Continuation {
  message: StepMessage;
  begun: Extract<BeginResult, { ok: true }>;
}

export type ReportResult = { ok: true; next?: Continuation } | Refusal;

/** Sent to the tenant's object so its run index follows the run; `version` orders them. */
export interface TenantSync {
  runId: string;
  project: string;
  blueprint: string | null;
  status: RunStatus;
  priority: Priority;
  createdAt: number;
  at: number;
  version: number;
  /** Set once the run is over. */
  usage?: RunUsage;
  outcome?: RunOutcome;
}

/** How a finished run went, for SLA metrics. */
export interface RunOutcome {
  /** Submission to end. */
  durationMs: number;
  /** Submission to start (admission wait). */
  queuedMs: number;
  errorCode: string | null;
}

export interface EngineConfig {
  /** How long a dispatched attempt may wait to be picked up before it is presumed lost. */
  leaseQueuedMs: number;
  /** Slack past a step's timeout (or heartbeat timeout) before an attempt is presumed dead. */
  leaseGraceMs: number;
  /** When the alarm re-sends outbox rows that were not confirmed sent. */
  outboxRetryMs: number;
  /** Extra dispatches allowed beyond maxAttempts for attempts lost before they started. */
  lostBudget: number;
  /**
   * How long a webhook event may wait for others to share one message (a run's final event never
   * waits). Without it, a chain sends one message, and pays one fan-out, per step. Absent: 0.
   */
  webhookBatchMs?: number;
}
