/**
 * A typed client for the Factory Runtime v1 API, for Node (≥ 22) and Workers. Its types are the
 * API's own zod schemas (type-only imports: nothing of zod is loaded). It retries 429 and 5xx
 * answers and network errors, honouring Retry-After, and gives every run creation an
 * Idempotency-Key so a retried POST can never start a run twice.
 */
import type {
  ApprovalList,
  ArtifactList,
  BlueprintList,
  CreateRunInput,
  CreatedRun,
  DecisionView,
  EventEnvelope,
  EventPage,
  Problem,
  RunList,
  Metrics,
  RunView,
  SignalView,
  UsageReport,
} from "../schema/api.ts";
import type { BudgetReport } from "../schema/budgets.ts";
import type { Tenant, UpdateTenantBody } from "../schema/tenants.ts";
import type { ApiErrorCode } from "../schema/errors.ts";
import type {
  ArtifactDelivery,
  ArtifactDiff,
  ArtifactVersion,
  ArtifactVersionList,
  Lineage,
} from "../schema/artifacts.ts";
import type {
  AllowFingerprintBody,
  AllowedFingerprint,
  ScanAuditEntry,
  ScanPolicyBody,
  ScanSettings,
} from "../schema/scanning.ts";
import type { RunStatus } from "../schema/vocabulary.ts";
import type {
  CreateScheduleInput,
  CreateTriggerInput,
  EventAccepted,
  ScheduleView,
  TriggerView,
  UpdateScheduleBody,
} from "../schema/automation.ts";
import type { SecretView } from "../schema/secrets.ts";
import type { PutTelemetryInput, TelemetryView } from "../schema/telemetry.ts";
import type {
  CreateJobTypeBody,
  CreatePoolBody,
  JobTypeVersion,
  PoolView,
  TokenView,
  WorkerView,
} from "../schema/workers.ts";
export type { CreateJobTypeBody, CreatePoolBody, JobTypeVersion, PoolView, TokenView, WorkerView };
import type { AuditAction, AuditEntry, AuditPage } from "../schema/audit.ts";
export type { AuditAction, AuditEntry, AuditPage };
import type { BulkBody, OperationView } from "../schema/operations.ts";
import type { StepConcurrency, StepRateLimit, StepWaiting } from "../schema/flow.ts";
import type { GitDelivery, PipelineDelivery } from "../schema/jobs/delivery.ts";

export type { SecretView };
export type { PutTelemetryInput, TelemetryView };
export type { OperationView };
/** A bulk operation's body as a caller sends it (`dryRun` defaults to false). */
export type BulkInput = Omit<BulkBody, "dryRun"> & { dryRun?: boolean };
export type { GitDelivery, PipelineDelivery };
/** An artifact's lineage; `lineage.delivered` carries the delivery steps' external ids. */
export type { ArtifactDelivery, Lineage };
import type { RetentionPolicy, RetentionSettings } from "../schema/retention.ts";
import type { PurgeAudit, PurgeProgress, PurgeTenantBody } from "../schema/tenants.ts";

// The API's bodies and views the methods take and return: the runtime's own zod schemas' types.
export type { AllowedFingerprint, ArtifactDiff, ArtifactList, ArtifactVersion, ArtifactVersionList, ScanSettings };
export type {
  ApprovalList,
  CreateRunInput,
  CreatedRun,
  DecisionView,
  EventEnvelope,
  RunList,
  RunView,
  SignalView,
  UsageReport,
};
export type { BudgetReport, Metrics };
export type { EventAccepted, ScheduleView, TriggerView };
export type { PurgeAudit, PurgeProgress, RetentionPolicy, RetentionSettings };
// A step's flow-control keys (docs/flow-control.md, "Step keys"): on a step spec and a job type.
export type { StepConcurrency, StepRateLimit, StepWaiting };

/** How a {@link FactoryClient} reaches the runtime. */
export interface ClientOptions {
  /** The runtime's origin, e.g. `https://factory.example.com` (a trailing slash is ignored). */
  baseUrl: string;
  /** A tenant API key (`frk_…`), or the admin token for the admin methods. Sent as a Bearer token. */
  apiKey: string;
  /** Attempts after the first, for 429, 5xx and network errors (default 4). */
  maxRetries?: number;
  /** Longest single wait between attempts, whatever Retry-After says (default 30 s). */
  maxDelayMs?: number;
  /** The fetch to call (default: the global one); tests and Workers service bindings pass their own. */
  fetch?: typeof fetch;
}

/**
 * A problem's code: one the API answers with (schema/errors.ts), or any other string — a
 * framework refusal (`http.<status>`), or a code from a newer API than this client.
 */
export type ProblemCode = ApiErrorCode | (string & {});

/** An API refusal: the problem+json body, with its stable code. */
export class FactoryApiError extends Error {
  /** The HTTP status of the answer. */
  readonly status: number;
  /** The problem's stable code (`run.not_found`, …): branch on this, not on the message. */
  readonly code: ProblemCode;
  /** The whole problem+json body: `title`, `detail`, field `errors`, and any extension members. */
  readonly problem: Problem;

  /** Made by the client from a refusal's status and problem+json body. */
  constructor(status: number, problem: Problem) {
    super(`${problem.title} (${problem.code})`);
    this.name = "FactoryApiError";
    this.status = status;
    this.code = problem.code;
    this.problem = problem;
  }
}

/** A run control: `cancel` (nothing new starts), `pause` (nothing new is dispatched), `resume`. */
export type RunControl = "cancel" | "pause" | "resume";

/** Every route the client calls, as the OpenAPI document names it (a test checks the document). */
export const CLIENT_ROUTES = [
  ["post", "/v1/runs"],
  ["get", "/v1/runs"],
  ["post", "/v1/runs/bulk"],
  ["get", "/v1/operations/{id}"],
  ["delete", "/v1/operations/{id}"],
  ["get", "/v1/runs/{id}"],
  ["post", "/v1/runs/{id}/cancel"],
  ["post", "/v1/runs/{id}/pause"],
  ["post", "/v1/runs/{id}/resume"],
  ["post", "/v1/runs/{id}/retry"],
  ["delete", "/v1/runs/{id}"],
  ["get", "/v1/runs/{id}/events"],
  ["get", "/v1/runs/{id}/artifacts"],
  ["get", "/v1/runs/{id}/artifacts/{name}"],
  ["post", "/v1/runs/{id}/steps/{stepId}/approve"],
  ["post", "/v1/runs/{id}/steps/{stepId}/reject"],
  ["post", "/v1/runs/{id}/signals/{name}"],
  ["get", "/v1/approvals"],
  ["get", "/v1/blueprints"],
  ["get", "/v1/usage"],
  ["get", "/v1/projects/{project}/artifacts"],
  ["get", "/v1/projects/{project}/artifacts/{name}/versions"],
  ["get", "/v1/projects/{project}/artifacts/{name}/versions/{version}/diff"],
  ["get", "/v1/admin/tenants/{id}"],
  ["patch", "/v1/admin/tenants/{id}"],
  ["get", "/v1/admin/tenants/{id}/scanning"],
  ["patch", "/v1/admin/tenants/{id}/scanning"],
  ["get", "/v1/admin/tenants/{id}/scanning/allow"],
  ["post", "/v1/admin/tenants/{id}/scanning/allow"],
  ["delete", "/v1/admin/tenants/{id}/scanning/allow/{project}/{fingerprint}"],
  ["get", "/v1/budgets"],
  ["get", "/v1/metrics"],
  ["get", "/v1/retention"],
  ["put", "/v1/admin/tenants/{id}/retention"],
  ["get", "/v1/admin/tenants/{id}/retention"],
  ["put", "/v1/projects/{project}/artifacts/{name}/versions/{version}/pin"],
  ["delete", "/v1/projects/{project}/artifacts/{name}/versions/{version}/pin"],
  ["delete", "/v1/admin/tenants/{id}"],
  ["get", "/v1/admin/tenants/{id}"],
  ["get", "/v1/admin/tenants/{id}/purges"],
  ["post", "/v1/schedules"],
  ["get", "/v1/schedules"],
  ["get", "/v1/schedules/{id}"],
  ["patch", "/v1/schedules/{id}"],
  ["delete", "/v1/schedules/{id}"],
  ["post", "/v1/schedules/{id}/trigger"],
  ["post", "/v1/events"],
  ["post", "/v1/triggers"],
  ["get", "/v1/triggers"],
  ["delete", "/v1/triggers/{id}"],
  ["put", "/v1/secrets/{name}"],
  ["get", "/v1/secrets"],
  ["delete", "/v1/secrets/{name}"],
  ["get", "/v1/audit"],
  ["put", "/v1/telemetry"],
  ["get", "/v1/telemetry"],
  ["delete", "/v1/telemetry"],
  ["post", "/v1/pools"],
  ["get", "/v1/pools"],
  ["get", "/v1/pools/{pool}"],
  ["delete", "/v1/pools/{pool}"],
  ["post", "/v1/pools/{pool}/tokens"],
  ["get", "/v1/pools/{pool}/tokens"],
  ["delete", "/v1/pools/{pool}/tokens/{tokenId}"],
  ["get", "/v1/pools/{pool}/workers"],
  ["post", "/v1/job-types"],
  ["get", "/v1/job-types"],
  ["get", "/v1/job-types/{name}"],
] as const;

const TERMINAL = new Set<RunStatus>(["succeeded", "failed", "cancelled"]);

/**
 * The v1 API, one method per operation. Every call is retried on 429, 5xx and network errors
 * (honouring Retry-After); a refusal throws {@link FactoryApiError}.
 */
export class FactoryClient {
  private readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly maxRetries: number;
  private readonly maxDelayMs: number;
  private readonly fetchImpl: typeof fetch;

  /** A client for one runtime and one key. It keeps no connection: make one per key and reuse it. */
  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.apiKey = options.apiKey;
    this.maxRetries = options.maxRetries ?? 4;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /**
   * Starts a run from a blueprint or an explicit step graph (`createRun`). The Idempotency-Key (a
   * fresh UUID unless given) is the same on every retry, so a retried call never starts two runs;
   * pass your own to make a later call with the same key answer the same run.
   */
  createRun(body: CreateRunInput, options: { idempotencyKey?: string } = {}): Promise<CreatedRun> {
    const key = options.idempotencyKey ?? crypto.randomUUID();
    return this.json("POST", "/v1/runs", body, { "idempotency-key": key });
  }

  /** Creates or replaces a tenant secret (scope secrets:manage); its value is never answered. */
  putSecret(name: string, value: string): Promise<SecretView> {
    return this.json("PUT", `/v1/secrets/${enc(name)}`, { value });
  }

  /** The tenant's secrets: names and times, never a value. */
  async listSecrets(): Promise<SecretView[]> {
    return (await this.json<{ items: SecretView[] }>("GET", "/v1/secrets")).items;
  }

  /** Deletes a tenant secret; a run that references it fails its step with `secret.not_found`. */
  async deleteSecret(name: string): Promise<void> {
    await this.request("DELETE", `/v1/secrets/${enc(name)}`);
  }

  /** Sends the tenant's runs' spans to its own OTLP collector too (scope webhooks:manage; docs/telemetry.md). */
  putTelemetry(body: PutTelemetryInput): Promise<TelemetryView> {
    return this.json("PUT", "/v1/telemetry", body);
  }

  /** The tenant's collector, its headers as secret references; null when it has none. */
  async getTelemetry(): Promise<TelemetryView | null> {
    try {
      return await this.json<TelemetryView>("GET", "/v1/telemetry");
    } catch (err) {
      if (err instanceof FactoryApiError && err.status === 404) return null;
      throw err;
    }
  }

  /** Stops sending spans to the tenant's own collector (the deployment's collector, if any, still gets them). */
  async deleteTelemetry(): Promise<void> {
    await this.request("DELETE", "/v1/telemetry");
  }

  // The tenant's own workers (docs/external-workers.md): pools, tokens, workers, job types.

  /** Creates one of the tenant's worker pools (scope workers:manage). */
  createPool(body: CreatePoolBody): Promise<PoolView> {
    return this.json("POST", "/v1/pools", body);
  }

  /** The tenant's own worker pools. */
  async listPools(): Promise<PoolView[]> {
    return (await this.json<{ items: PoolView[] }>("GET", "/v1/pools")).items;
  }

  /** A pool with its backlog: steps waiting and the oldest's age. */
  getPool(pool: string): Promise<PoolView & { waiting: number; oldestAgeMs: number | null }> {
    return this.json("GET", `/v1/pools/${enc(pool)}`);
  }

  /** Deletes a pool no job type routes to (`pool.in_use` otherwise); its tokens stop working. */
  async deletePool(pool: string): Promise<void> {
    await this.request("DELETE", `/v1/pools/${enc(pool)}`);
  }

  /** A new worker token for the pool: `token` is shown this once. */
  createPoolToken(pool: string): Promise<{ id: string; token: string }> {
    return this.json("POST", `/v1/pools/${enc(pool)}/tokens`);
  }

  /** The pool's worker tokens: ids and times, never the secrets. */
  async listPoolTokens(pool: string): Promise<TokenView[]> {
    return (await this.json<{ items: TokenView[] }>("GET", `/v1/pools/${enc(pool)}/tokens`)).items;
  }

  /** Revokes a worker token: its next call is refused. */
  async revokePoolToken(pool: string, tokenId: string): Promise<void> {
    await this.request("DELETE", `/v1/pools/${enc(pool)}/tokens/${enc(tokenId)}`);
  }

  /** The pool's workers: labels, kinds, last seen, in flight, completed, failed. */
  async listPoolWorkers(pool: string): Promise<WorkerView[]> {
    return (await this.json<{ items: WorkerView[] }>("GET", `/v1/pools/${enc(pool)}/workers`)).items;
  }

  /** A job type, or its next version (versions are immutable and increase). */
  createJobType(body: CreateJobTypeBody): Promise<JobTypeVersion> {
    return this.json("POST", "/v1/job-types", body);
  }

  /** The tenant's job types, each at its newest version. */
  async listJobTypes(): Promise<JobTypeVersion[]> {
    return (await this.json<{ items: JobTypeVersion[] }>("GET", "/v1/job-types")).items;
  }

  /** Every version of a job type, newest first. */
  async jobTypeVersions(name: string): Promise<JobTypeVersion[]> {
    return (await this.json<{ versions: JobTypeVersion[] }>("GET", `/v1/job-types/${enc(name)}`)).versions;
  }

  /** A run with its steps (`getRun`); an archived run is answered from its archive. */
  getRun(id: string): Promise<RunView> {
    return this.json("GET", `/v1/runs/${enc(id)}`);
  }

  /** The tenant's runs, newest first (`listRuns`); pass `nextCursor` back as `cursor` to page on. */
  listRuns(query: RunSearch = {}): Promise<RunList> {
    return this.json("GET", `/v1/runs${searchQs(query)}`);
  }

  /**
   * Cancels, retries or deletes every run a filter (or a list of ids) names, in batches (`bulkRuns`);
   * answers the operation, which `getOperation` follows. `dryRun` only counts.
   */
  bulkRuns(body: BulkInput): Promise<OperationView> {
    return this.json("POST", "/v1/runs/bulk", body);
  }

  /** A bulk operation's progress (`getOperation`). */
  getOperation(id: string): Promise<OperationView> {
    return this.json("GET", `/v1/operations/${enc(id)}`);
  }

  /** Stops a bulk operation (`stopOperation`): runs not yet changed are left as they are. */
  stopOperation(id: string): Promise<OperationView> {
    return this.json("DELETE", `/v1/operations/${enc(id)}`);
  }

  /** Cancels, pauses or resumes a run (`cancelRun`, `pauseRun`, `resumeRun`); answers the run after the change. */
  control(id: string, action: RunControl): Promise<RunView> {
    return this.json("POST", `/v1/runs/${enc(id)}/${action}`);
  }

  /**
   * Deletes a finished run now (its state, archive, artifacts and index row). A run still active
   * is refused with `run.active`: cancel it first.
   */
  async deleteRun(id: string): Promise<void> {
    await this.request("DELETE", `/v1/runs/${enc(id)}`);
  }

  /** Re-runs a failed or cancelled run as a new run (the same one if asked again). */
  retry(id: string): Promise<RunView> {
    return this.json("POST", `/v1/runs/${enc(id)}/retry`);
  }

  /** A page of the run's event log, in order (`listRunEvents`); `nextAfter` is the next page's `after`. */
  events(id: string, query: { after?: number; limit?: number } = {}): Promise<EventPage> {
    return this.json("GET", `/v1/runs/${enc(id)}/events${qs(query)}`);
  }

  /** The run's events as they happen (server-sent events), resuming after `after`; ends with the run. */
  async *follow(id: string, after = 0): AsyncGenerator<EventEnvelope> {
    let last = after;
    for (let reconnects = 0; ; reconnects++) {
      const res = await this.request("GET", `/v1/runs/${enc(id)}/events`, undefined, {
        accept: "text/event-stream",
        ...(last ? { "last-event-id": String(last) } : {}),
      });
      let finished = false;
      for await (const event of parseSse(res)) {
        last = event.seq;
        yield event;
        if (event.type.startsWith("run.") && TERMINAL.has(event.type.slice(4) as RunStatus)) finished = true;
      }
      if (finished) return;
      // The stream closed early (a 10-minute cap, a restart): look before reconnecting.
      const run = await this.getRun(id);
      if (TERMINAL.has(run.status) && (await this.events(id, { after: last, limit: 1 })).items.length === 0) return;
      if (reconnects > 1000) throw new Error("event stream keeps closing");
    }
  }

  /** Decides a waiting approval gate (the key needs approvals:grant). The first decision wins. */
  decide(id: string, stepId: string, decision: "approve" | "reject", comment?: string): Promise<DecisionView> {
    return this.json("POST", `/v1/runs/${enc(id)}/steps/${enc(stepId)}/${decision}`, comment ? { comment } : {});
  }

  /** Approves a waiting approval gate (`approveStep`); see {@link FactoryClient.decide}. */
  approve(id: string, stepId: string, comment?: string): Promise<DecisionView> {
    return this.decide(id, stepId, "approve", comment);
  }

  /** Rejects a waiting approval gate (`rejectStep`): the step fails with `approval.rejected`. */
  reject(id: string, stepId: string, comment?: string): Promise<DecisionView> {
    return this.decide(id, stepId, "reject", comment);
  }

  /** Sends the run a signal; its body becomes the output of the step waiting for `name`. */
  signal(id: string, name: string, body: unknown): Promise<SignalView> {
    return this.json("POST", `/v1/runs/${enc(id)}/signals/${enc(name)}`, body ?? null);
  }

  /** The tenant's audit trail, newest first (scope `audit:read`; docs/audit.md). */
  audit(
    query: {
      action?: AuditAction;
      actor?: string;
      target?: string;
      since?: string;
      until?: string;
      cursor?: string;
      limit?: number;
    } = {},
  ): Promise<AuditPage> {
    return this.json("GET", `/v1/audit${qs(query)}`);
  }

  /** The tenant's approval gates: pending oldest first, or decided newest first. */
  approvals(
    query: { status?: "pending" | "decided"; project?: string; cursor?: string; limit?: number } = {},
  ): Promise<ApprovalList> {
    return this.json("GET", `/v1/approvals${qs(query)}`);
  }

  /** The run's artifact manifest (`listRunArtifacts`): name, size, sha256, status, scan and lineage. */
  artifacts(id: string): Promise<ArtifactList> {
    return this.json("GET", `/v1/runs/${enc(id)}/artifacts`);
  }

  /**
   * The artifact's bytes as a streaming Response (check `x-content-sha256`). A rejected artifact
   * throws FactoryApiError `artifact.rejected` (409), whose `problem.findings` say why.
   */
  download(id: string, name: string): Promise<Response> {
    return this.request("GET", `/v1/runs/${enc(id)}/artifacts/${enc(name)}`);
  }

  /** The latest published version of each of a project's artifacts. */
  projectArtifacts(project: string): Promise<{ items: ArtifactVersion[] }> {
    return this.json("GET", `/v1/projects/${enc(project)}/artifacts`);
  }

  /** An artifact's published versions, newest first; pass `nextCursor` back to page on. */
  artifactVersions(
    project: string,
    name: string,
    query: { limit?: number; cursor?: string } = {},
  ): Promise<ArtifactVersionList> {
    return this.json("GET", `/v1/projects/${enc(project)}/artifacts/${enc(name)}/versions${qs(query)}`);
  }

  /** Files added, removed and changed from version `against` to `version` (zip artifacts). */
  artifactDiff(project: string, name: string, version: number, against: number): Promise<ArtifactDiff> {
    return this.json(
      "GET",
      `/v1/projects/${enc(project)}/artifacts/${enc(name)}/versions/${version}/diff${qs({ against })}`,
    );
  }

  /** The blueprints a run can name (`listBlueprints`), with their input schemas. */
  blueprints(): Promise<BlueprintList> {
    return this.json("GET", "/v1/blueprints");
  }

  /** What the tenant's finished runs used and cost, grouped by project, blueprint or day (`getUsage`). */
  usage(query: { from?: string; to?: string; groupBy?: "project" | "blueprint" | "day" } = {}): Promise<UsageReport> {
    return this.json("GET", `/v1/usage${qs(query)}`);
  }

  // Admin routes, for a client made with the admin token as its key.

  /** A tenant: its status, limits (`shards` among them) and weight, with its running and waiting runs. */
  tenant(tenantId: string): Promise<Tenant & { runs: { running: number; waiting: number } }> {
    return this.json("GET", `/v1/admin/tenants/${enc(tenantId)}`);
  }

  /** Suspends or reactivates a tenant, or changes its limits (e.g. `{ limits: { shards: 8 } }`) or weight. */
  updateTenant(tenantId: string, patch: UpdateTenantBody): Promise<Tenant> {
    return this.json("PATCH", `/v1/admin/tenants/${enc(tenantId)}`, patch);
  }

  // Secret scanning settings.

  /** A tenant's scanning policies: its default and per-project ones. */
  scanSettings(tenantId: string): Promise<ScanSettings> {
    return this.json("GET", `/v1/admin/tenants/${enc(tenantId)}/scanning`);
  }

  /** Sets the default and/or per-project policies (`null` for a project: it inherits). */
  setScanPolicy(tenantId: string, body: ScanPolicyBody): Promise<ScanSettings> {
    return this.json("PATCH", `/v1/admin/tenants/${enc(tenantId)}/scanning`, body);
  }

  /** Accepts a reviewed finding's fingerprint for a project (audited). */
  allowFingerprint(tenantId: string, body: AllowFingerprintBody): Promise<AllowedFingerprint> {
    return this.json("POST", `/v1/admin/tenants/${enc(tenantId)}/scanning/allow`, body);
  }

  /** Accepted fingerprints (all projects, or one) with the audit trail of changes (admin token). */
  allowList(tenantId: string, project?: string): Promise<{ items: AllowedFingerprint[]; audit: ScanAuditEntry[] }> {
    return this.json("GET", `/v1/admin/tenants/${enc(tenantId)}/scanning/allow${qs({ project })}`);
  }

  /** Takes a fingerprint off a project's allow list (admin token; audited). */
  async disallowFingerprint(tenantId: string, project: string, fingerprint: string): Promise<void> {
    await this.request(
      "DELETE",
      `/v1/admin/tenants/${enc(tenantId)}/scanning/allow/${enc(project)}/${enc(fingerprint)}`,
    );
  }

  /** The month's budgets: spent, committed by running runs, forecast, thresholds crossed. */
  budgets(query: { month?: string } = {}): Promise<BudgetReport> {
    return this.json("GET", `/v1/budgets${qs(query)}`);
  }

  /** The tenant's retention policy: periods in force, tenant-wide and per project. */
  retention(): Promise<RetentionSettings> {
    return this.json("GET", "/v1/retention");
  }

  /** A tenant's retention policy (admin token). */
  tenantRetention(tenantId: string): Promise<RetentionSettings> {
    return this.json("GET", `/v1/admin/tenants/${enc(tenantId)}/retention`);
  }

  /** Sets a tenant's retention policy (admin token); what it leaves out is the default. */
  setRetention(tenantId: string, policy: RetentionPolicy): Promise<RetentionSettings> {
    return this.json("PUT", `/v1/admin/tenants/${enc(tenantId)}/retention`, policy);
  }

  /** Pins a published version (kept however long ago it was superseded), or unpins it. */
  pinVersion(project: string, name: string, version: number, pinned = true): Promise<ArtifactVersion> {
    return this.json(
      pinned ? "PUT" : "DELETE",
      `/v1/projects/${enc(project)}/artifacts/${enc(name)}/versions/${version}/pin`,
    );
  }

  /** Starts purging a tenant (admin token): suspended at once, its data deleted in the background. */
  deleteTenant(tenantId: string, body: PurgeTenantBody): Promise<PurgeProgress> {
    return this.json("DELETE", `/v1/admin/tenants/${enc(tenantId)}`, body);
  }

  /**
   * A purge's progress (admin token): under way (its phase and counts), or finished (the audit
   * record, kept after the tenant is gone); null when the tenant id was never purged.
   */
  async tenantPurge(tenantId: string): Promise<{ underWay: PurgeProgress | null; audit: PurgeAudit | null }> {
    const res = await this.request("GET", `/v1/admin/tenants/${enc(tenantId)}`).catch((e: unknown) => {
      if (e instanceof FactoryApiError && e.status === 404) return null;
      throw e;
    });
    const underWay = res ? ((await res.json()) as { purge: PurgeProgress | null }).purge : null;
    const { items } = await this.json<{ items: PurgeAudit[] }>("GET", `/v1/admin/tenants/${enc(tenantId)}/purges`);
    return { underWay, audit: items[0] ?? null };
  }

  /** SLA metrics of the tenant's runs, with each external dependency's circuit breaker. */
  metrics(query: { from?: string; to?: string } = {}): Promise<Metrics> {
    return this.json("GET", `/v1/metrics${qs(query)}`);
  }

  // Schedules, events and triggers (docs/schedules-and-triggers.md).
  /** Creates a schedule: cron in a time zone, `every` or once `at`; each fire starts one run. */
  createSchedule(body: CreateScheduleInput): Promise<ScheduleView> {
    return this.json("POST", "/v1/schedules", body);
  }

  /** The tenant's schedules, a page at a time (`nextCursor` for the next). */
  listSchedules(
    query: { cursor?: string; limit?: number } = {},
  ): Promise<{ items: ScheduleView[]; nextCursor: string | null }> {
    return this.json("GET", `/v1/schedules${qs(query)}`);
  }

  /** One schedule, with its next 5 fire times and its last 10 fires and their runs. */
  getSchedule(id: string): Promise<ScheduleView> {
    return this.json("GET", `/v1/schedules/${enc(id)}`);
  }

  /** Pause (`{ paused: true }`), resume, or change a schedule's spec, overlap, catch-up or input. */
  updateSchedule(id: string, patch: UpdateScheduleBody): Promise<ScheduleView> {
    return this.json("PATCH", `/v1/schedules/${enc(id)}`, patch);
  }

  /** Deletes a schedule; runs it started are not touched. */
  async deleteSchedule(id: string): Promise<void> {
    await this.request("DELETE", `/v1/schedules/${enc(id)}`);
  }

  /** Fires a schedule now (a paused one too). */
  fireSchedule(id: string): Promise<{ scheduleId: string; fireTime: string; runId: string; replayed: boolean }> {
    return this.json("POST", `/v1/schedules/${enc(id)}/trigger`);
  }

  /** Sends an event (key scope events:write); the same id within 24 h starts nothing more. */
  sendEvent(event: { id: string; type: string; data?: Record<string, unknown> }): Promise<EventAccepted> {
    return this.json("POST", "/v1/events", event);
  }

  /** Creates a trigger: an event of its type whose data matches starts one run. */
  createTrigger(body: CreateTriggerInput): Promise<TriggerView> {
    return this.json("POST", "/v1/triggers", body);
  }

  /** The tenant's triggers, a page at a time. */
  listTriggers(
    query: { cursor?: string; limit?: number } = {},
  ): Promise<{ items: TriggerView[]; nextCursor: string | null }> {
    return this.json("GET", `/v1/triggers${qs(query)}`);
  }

  /** Deletes a trigger; events already sent keep the runs they started. */
  async deleteTrigger(id: string): Promise<void> {
    await this.request("DELETE", `/v1/triggers/${enc(id)}`);
  }

  private async json<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const res = await this.request(method, path, body, headers);
    return (await res.json()) as T;
  }

  /** One call, retried on 429, 5xx and network errors; a 4xx refusal throws FactoryApiError. */
  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let res: Response | null = null;
      let failure: unknown = null;
      try {
        res = await this.fetchImpl(`${this.baseUrl}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.apiKey}`,
            ...(body !== undefined ? { "content-type": "application/json" } : {}),
            ...headers,
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
      } catch (err) {
        failure = err;
      }
      if (res?.ok) return res;
      const retryable = !res || res.status === 429 || res.status >= 500;
      if (!retryable || attempt >= this.maxRetries) {
        if (!res) throw failure;
        throw new FactoryApiError(res.status, await problemOf(res));
      }
      const retryAfter = Number(res?.headers.get("retry-after"));
      const wait =
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 250 * 2 ** attempt * (0.5 + Math.random());
      await res?.body?.cancel();
      await new Promise((r) => setTimeout(r, Math.min(wait, this.maxDelayMs)));
    }
  }
}

async function problemOf(res: Response): Promise<Problem> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as Problem;
    if (typeof body.code === "string") return body;
  } catch {
    // not problem+json: describe what came back
  }
  return {
    type: "about:blank",
    title: text.slice(0, 200) || res.statusText,
    status: res.status,
    code: `http.${res.status}`,
  };
}

/** Parses a text/event-stream response into event envelopes. */
async function* parseSse(res: Response): AsyncGenerator<EventEnvelope> {
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let cut = buffer.indexOf("\n\n"); cut >= 0; cut = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart())
        .join("\n");
      if (data) yield JSON.parse(data) as EventEnvelope;
    }
  }
}

const enc = encodeURIComponent;

/** A search of the tenant's runs (`GET /v1/runs`): every field given must match. */
export interface RunSearch {
  /** Runs of this project. */
  project?: string;
  /** Any of these statuses. */
  status?: RunStatus | RunStatus[];
  /** All of these tags. */
  tag?: string | string[];
  /** Every pair (sent as `metadata.<key>=<value>`). */
  metadata?: Record<string, string>;
  /** Runs of this blueprint. */
  blueprint?: string;
  /** Runs opened by this key id, `schedule:<id>`, `trigger:<id>` or `operation:<id>`. */
  requestedBy?: string;
  /** Created at or after this ISO 8601 time. */
  createdAfter?: string;
  /** Created before this ISO 8601 time. */
  createdBefore?: string;
  /** Finished at or after this ISO 8601 time. */
  finishedAfter?: string;
  /** A previous page's `nextCursor`. */
  cursor?: string;
  /** Runs per page (at most 100). */
  limit?: number;
}

/** The search as a query string: repeated names for lists, `metadata.<key>` for pairs. */
export function searchQs(q: RunSearch): string {
  const params = new URLSearchParams();
  const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  for (const [name, value] of Object.entries(q)) {
    if (value === undefined || name === "metadata") continue;
    for (const one of list(typeof value === "number" ? String(value) : value)) params.append(name, one);
  }
  for (const [k, v] of Object.entries(q.metadata ?? {})) params.append(`metadata.${k}`, v);
  const text = params.toString();
  return text ? `?${text}` : "";
}

function qs(query: Record<string, string | number | undefined>): string {
  const entries = Object.entries(query).filter((e): e is [string, string | number] => e[1] !== undefined);
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : "";
}
