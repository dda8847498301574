/**
 * The Run object's contract: what crosses its boundary (run specs, workers' reports, and the
 * answers to them) and what it tells its tenant's object. The API, the data plane and the
 * tenant call it with these types; src/control/run/stub.ts names the methods.
 */
import type { ResolvedKey, ResolvedStepFlow } from "./flow";
import type { RunDebounce } from "./debounce";
import type { Json, JsonObject, RunOrigin } from "./api";
import type { StepMessage } from "./messages";
import type { ErrorShape, Refusal } from "./errors";
import type { ReportedUsage, RunUsage } from "./usage";
import type { FailurePolicy, PoolName, Priority, RunStatus } from "./vocabulary";
import type { ArtifactScan, ArtifactStatus, RunScanning } from "./scanning";
import type { PublishedArtifact } from "./artifacts";
import type { RunRetention } from "./retention";
import type { PinnedJobType } from "./workers";

export interface RetryPolicy {
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

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
  /** A tenant job type's step (pool `external`): the version pinned at creation, routed to the tenant's pool. */
  worker?: PinnedJobType;
  /** The step's concurrency and rate keys, resolved against its input (schema/flow.ts); absent: none. */
  flow?: ResolvedStepFlow;
}

/** A step carried over, already succeeded, from the run that a retry re-runs. */
export interface CarriedStep {
  output: Json;
  artifacts: Artifact[];
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
  /** The project's scanning policy and allow list when the run was created (default: block). */
  scanning?: RunScanning;
  /** The project's retention when the run was created (default: RETENTION_DEFAULTS). */
  retention?: RunRetention;
  /** The tenant shard that indexed the run (src/control/tenant/shards.ts); absent: 0, the tenant's own object. */
  tenantShard?: number;
  /** The id of the API key that created the run: by default it may not decide the run's gates. */
  requestedBy?: string;
  /** A schedule or an event started the run (absent: the API, or the retry `retryOf` names). */
  origin?: RunOrigin;
  /** The run's tags and metadata (issue 28); copied to a retry. */
  tags?: string[];
  metadata?: Record<string, string>;
  /** Concurrency keys resolved at creation, sorted (schema/flow.ts); copied to a retry. */
  concurrency?: ResolvedKey[];
  /** Its debounce (schema/debounce.ts): it waits until `until` before it may start. */
  debounce?: RunDebounce;
  /** The tenant had its own OTLP collector when the run was created: its spans go there too. */
  collector?: boolean;
  /** The API request that created the run (its `http.server` span). */
  request?: HttpRequestRecord;
}

/** An artifact an attempt wrote to R2: its name in the run, its key, size, type and sha256. */
export interface Artifact {
  name: string;
  key: string;
  size: number;
  contentType: string;
  sha256: string;
  /** Set by the secret scan, before the artifact is reported (absent: written before scanning). */
  status?: ArtifactStatus;
  scan?: ArtifactScan;
  /** sha256 of the input of the step that wrote it (its lineage). */
  inputSha256?: string;
}

/**
 * Where a job handler writes its artifacts (`ctx.artifacts` of the job SDK, src/data/job.ts);
 * implemented by the artifact writer (src/artifacts/writer.ts), which scans before it reports.
 */
export interface ArtifactWriter {
  /**
   * Scans `body` for secrets under the run's policy, then stores it in R2 under this attempt's
   * tenant-scoped prefix and records its size and sha256; a later `put` of the same name in the
   * same attempt replaces it. Throws a non-retryable error (the step fails for good) for a name
   * that is not one safe path segment (`artifact.invalid_name`) or bytes the scan rejects
   * (`artifact.secret_detected`, `artifact.scan_incomplete`), whose bytes are never stored.
   */
  put(name: string, body: string | Uint8Array, contentType: string): Promise<Artifact>;
}

/** A step to add to the run: a run step's shape; `dependsOn` may name only other spawned steps. */
export type SpawnStep = {
  id: string;
  type: string;
  input?: JsonObject;
  dependsOn?: string[];
  timeoutMs?: number;
  retry?: { maxAttempts?: number };
};

export type StepReport =
  | (ReportCommon & {
      outcome: "succeeded";
      output: Json;
      artifacts: Artifact[];
      /** Steps the attempt spawned, as it asked for them: the run resolves and validates them. */
      spawn?: SpawnStep[];
    })
  | (ReportCommon & {
      outcome: "failed";
      error: ErrorShape;
      /** Artifacts the scan rejected (their bytes were never stored): listed with their findings. */
      rejected?: Artifact[];
    });

/** What any attempt reports besides its outcome. */
export interface ReportCommon {
  stepId: string;
  attempt: number;
  logs?: { level: "info" | "warn" | "error"; message: string; fields?: JsonObject }[];
  usage?: ReportedUsage;
  /** Calls the attempt made to outside services, timed: `factory.external.{service}` spans (docs/telemetry.md). */
  calls?: ExternalCallRecord[];
}

/**
 * The API request that created or controlled a run, as its event keeps it: an `http.server` span
 * of the run's trace (docs/telemetry.md), named by the OpenTelemetry HTTP conventions.
 */
export interface HttpRequestRecord {
  method: string;
  /** The route's template (`/v1/runs/{id}/cancel`), never the concrete path. */
  route: string;
  startMs: number;
  /** The status the request answers when the change it asked for is made. */
  status: number;
}

/** One outgoing call of an attempt: its `n` names its span (src/lib/trace.ts `externalSpan`). */
export interface ExternalCallRecord {
  service: string;
  n: number;
  startMs: number;
  endMs: number;
  /** The error's code or message when the call failed. */
  error?: string;
}

export type BeginResult =
  | {
      ok: true;
      input: JsonObject;
      upstream: JsonObject;
      timeoutMs: number;
      /** Set when the step must heartbeat: an external worker paces its heartbeats by it. */
      heartbeatTimeoutMs?: number;
      tenantId: string;
      traceId: string;
      scanning: RunScanning;
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
  /** A succeeded run's artifacts (not rejected), for the tenant to version. */
  published?: PublishedArtifact[];
  /** Set once the run is over: what it holds, for the tenant's storage figures (GET /v1/usage). */
  storage?: { stateBytes: number; artifactBytes: number };
  /**
   * What the run index searches by, on a run the tenant did not open (a retry): it indexes them on
   * the run's first word. Absent on an opened run's syncs (the opening carried them).
   */
  search?: RunSearchFields;
  /**
   * A run with concurrency keys: "waiting" gives its tenant slot back while a key is busy,
   * "ready" asks for one again once it holds every key (docs/flow-control.md).
   */
  flow?: "waiting" | "ready";
}

/**
 * Who asked for a run's control, as the audit trail names actors (docs/audit.md): `key:<id>`,
 * `operation:<id>` (a bulk operation, issue 28), `admin`, `runtime`. Named in the control's event as `by`.
 */
export type ControlActor = string;

/** A run's searchable fields besides its status and times (schema/search.ts). */
export interface RunSearchFields {
  requestedBy: string | null;
  tags?: string[];
  metadata?: Record<string, string>;
}

/** How a finished run went, for SLA metrics. */
export interface RunOutcome {
  /** Submission to end. */
  durationMs: number;
  /** Submission to start (admission wait). */
  queuedMs: number;
  errorCode: string | null;
}

/** How an approval gate ended. `expired`: its timeout came first and its `onTimeout` decided. */
export type GateDecision = "approved" | "rejected";

/** Who decided a gate or sent a signal: an API key, a signed link, or the gate's timeout. */
export type Decider =
  | { kind: "key"; keyId: string; name: string | null }
  | { kind: "link"; linkId: string; issuedTo?: string }
  | { kind: "timeout" };

/** A key's right to decide, as the API authenticated it. */
export interface DeciderKey {
  keyId: string;
  name: string | null;
  scopes: readonly string[];
}

/** A recorded decision, as the API answers it. */
export interface DecisionView {
  runId: string;
  stepId: string;
  decision: GateDecision;
  by: Decider;
  comment: string | null;
  decidedAt: string;
  /** True when this answer repeats a decision recorded earlier (the same one, asked again). */
  repeated: boolean;
}

export type DecisionResult = { ok: true; decision: DecisionView } | Refusal;

/** A waiting gate's decision links, issued to a key that may decide it. */
export type LinksResult = { ok: true; approveUrl: string; rejectUrl: string; expiresAt: string } | Refusal;

/** What a signal did: the steps it completed now (none when it waits for a step that waits later). */
export type SignalResult =
  | { ok: true; name: string; receivedAt: string; consumedBy: string[]; repeated: boolean }
  | Refusal;
