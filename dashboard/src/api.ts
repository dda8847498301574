/**
 * The dashboard's API client: every call carries the session's key in the Authorization header
 * (never in a URL), and every error becomes an ApiError holding the problem+json title/detail.
 */
import type { z } from "@hono/zod-openapi";
import type { OperationView } from "../../schema/operations";
import type {
  ApprovalList,
  ArtifactList,
  BlueprintList,
  CreateRunInput,
  DecisionView,
  EventPage,
  Metrics,
  Problem,
  RunList,
  RunUsageView,
  RunView,
  UsageReport,
  WireEvent,
} from "../../schema/api";
import type { RetentionSettings } from "../../schema/retention";
import type { ScheduleView, TriggerView } from "../../schema/automation";
import type { BudgetReport } from "../../schema/budgets";
import type { EventType } from "../../schema/vocabulary";
import type { ArtifactDiff, ArtifactVersionList } from "../../schema/artifacts";
import type { SecretView } from "../../schema/secrets";
import type { AuditPage } from "../../schema/audit";
import type { CreatePoolBody, JobTypeVersion, PoolView, TokenView, WorkerView } from "../../schema/workers";
import { SseParser } from "./sse";

/** A run's last event is one of these; the live stream ends after it. */
const FINAL_EVENTS: ReadonlySet<EventType> = new Set(["run.succeeded", "run.failed", "run.cancelled"]);

export type MetricsView = z.infer<typeof Metrics>;
export type PoolBacklog = MetricsView["pools"][number];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string | null,
    readonly code: string | null,
    /** Which fields a validation failure was about. */
    readonly errors: { path: string; message: string }[] = [],
  ) {
    super(detail ? `${title}: ${detail}` : title);
  }
}

type Query = Record<string, string | number | undefined>;

export class Api {
  /** Called on a 401: the key was revoked or is wrong, so the session ends. */
  onUnauthorized: () => void = () => {};

  constructor(private readonly key: string) {}

  private async request(
    method: string,
    path: string,
    init: { query?: Query; body?: unknown; accept?: string; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(init.query ?? {}))
      if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
    const headers = new Headers({ authorization: `Bearer ${this.key}`, accept: init.accept ?? "application/json" });
    if (init.body !== undefined) headers.set("content-type", "application/json");
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: init.body === undefined ? null : JSON.stringify(init.body),
        signal: init.signal ?? null,
      });
    } catch (err) {
      if (err instanceof DOMException && err.name === "AbortError") throw err;
      throw new ApiError(0, "The runtime cannot be reached", "Check that it is running, then try again.", null);
    }
    if (res.ok) return res;
    let problem: Partial<Problem> = {};
    try {
      problem = (await res.json()) as typeof problem;
    } catch {
      // not problem+json (a proxy's error page): the status line says enough
    }
    if (res.status === 401) this.onUnauthorized();
    throw new ApiError(
      res.status,
      problem.title ?? `HTTP ${res.status}`,
      problem.detail ?? null,
      problem.code ?? null,
      problem.errors ?? [],
    );
  }

  private async json<T>(method: string, path: string, init: { query?: Query; body?: unknown } = {}): Promise<T> {
    return (await (await this.request(method, path, init)).json()) as T;
  }

  blueprints = () => this.json<BlueprintList>("GET", "/v1/blueprints");
  listRuns = (q: { project?: string; status?: string; cursor?: string; limit?: number }) =>
    this.json<RunList>("GET", "/v1/runs", { query: q });
  /** A search in its query-string form (repeated `tag`/`status`, `metadata.<key>`), as the runs page's URL keeps it. */
  searchRuns = (search: URLSearchParams, q: { cursor?: string; limit?: number }) =>
    this.json<RunList>("GET", `/v1/runs?${search}`, { query: q });
  bulkRuns = (body: {
    action: "cancel" | "retry" | "delete";
    filter?: Record<string, unknown>;
    ids?: string[];
    dryRun?: boolean;
  }) => this.json<OperationView>("POST", "/v1/runs/bulk", { body });
  getOperation = (id: string) => this.json<OperationView>("GET", `/v1/operations/${encodeURIComponent(id)}`);
  getRun = (id: string) => this.json<RunView>("GET", `/v1/runs/${encodeURIComponent(id)}`);
  createRun = (body: CreateRunInput) => this.json<RunView>("POST", "/v1/runs", { body });
  control = (id: string, action: "cancel" | "pause" | "resume" | "retry") =>
    this.json<RunView>("POST", `/v1/runs/${encodeURIComponent(id)}/${action}`);
  artifacts = (id: string) => this.json<ArtifactList>("GET", `/v1/runs/${encodeURIComponent(id)}/artifacts`);
  artifactVersions = (project: string, name: string, q: { cursor?: string; limit?: number } = {}) =>
    this.json<ArtifactVersionList>(
      "GET",
      `/v1/projects/${encodeURIComponent(project)}/artifacts/${encodeURIComponent(name)}/versions`,
      { query: q },
    );
  artifactDiff = (project: string, name: string, version: number, against: number) =>
    this.json<ArtifactDiff>(
      "GET",
      `/v1/projects/${encodeURIComponent(project)}/artifacts/${encodeURIComponent(name)}/versions/${version}/diff`,
      { query: { against } },
    );
  runUsage = (id: string) => this.json<RunUsageView>("GET", `/v1/runs/${encodeURIComponent(id)}/usage`);
  usage = (q: { from?: string; to?: string; groupBy: UsageReport["groupBy"] }) =>
    this.json<UsageReport>("GET", "/v1/usage", { query: q });
  metrics = (q: { from?: string; to?: string }) => this.json<MetricsView>("GET", "/v1/metrics", { query: q });
  approvals = (q: { status: "pending" | "decided"; project?: string; cursor?: string; limit?: number }) =>
    this.json<ApprovalList>("GET", "/v1/approvals", { query: q });
  /** Decides a waiting approval gate; the key needs the approvals:grant scope. */
  decide = (id: string, stepId: string, decision: "approve" | "reject", comment: string) =>
    this.json<DecisionView>(
      "POST",
      `/v1/runs/${encodeURIComponent(id)}/steps/${encodeURIComponent(stepId)}/${decision}`,
      { body: comment ? { comment } : {} },
    );
  budgets = () => this.json<BudgetReport>("GET", "/v1/budgets");
  retention = () => this.json<RetentionSettings>("GET", "/v1/retention");
  /** The tenant's secrets: names and times, never values. Writing needs the secrets:manage scope. */
  secrets = () => this.json<{ items: SecretView[] }>("GET", "/v1/secrets");
  audit = (q: Query) => this.json<AuditPage>("GET", "/v1/audit", { query: q });
  putSecret = (name: string, value: string) =>
    this.json<SecretView>("PUT", `/v1/secrets/${encodeURIComponent(name)}`, { body: { value } });
  deleteSecret = async (name: string) => {
    await this.request("DELETE", `/v1/secrets/${encodeURIComponent(name)}`);
  };
  /** The tenant's own pools, their workers, and its job types (docs/external-workers.md). */
  pools = () => this.json<{ items: PoolView[] }>("GET", "/v1/pools");
  pool = (name: string) =>
    this.json<PoolView & { waiting: number; oldestAgeMs: number | null }>(
      "GET",
      `/v1/pools/${encodeURIComponent(name)}`,
    );
  poolWorkers = (name: string) =>
    this.json<{ items: WorkerView[] }>("GET", `/v1/pools/${encodeURIComponent(name)}/workers`);
  createPool = (body: CreatePoolBody) => this.json<PoolView>("POST", "/v1/pools", { body });
  /** A new worker token: `token` is answered this once. */
  createPoolToken = (pool: string) =>
    this.json<{ id: string; token: string }>("POST", `/v1/pools/${encodeURIComponent(pool)}/tokens`);
  poolTokens = (pool: string) =>
    this.json<{ items: TokenView[] }>("GET", `/v1/pools/${encodeURIComponent(pool)}/tokens`);
  revokePoolToken = async (pool: string, id: string): Promise<void> => {
    await this.request("DELETE", `/v1/pools/${encodeURIComponent(pool)}/tokens/${encodeURIComponent(id)}`);
  };
  jobTypes = () => this.json<{ items: JobTypeVersion[] }>("GET", "/v1/job-types");
  jobTypeVersions = (name: string) =>
    this.json<{ name: string; versions: JobTypeVersion[] }>("GET", `/v1/job-types/${encodeURIComponent(name)}`);
  schedules = (q: { cursor?: string; limit?: number } = {}) =>
    this.json<{ items: ScheduleView[]; nextCursor: string | null }>("GET", "/v1/schedules", { query: q });
  schedule = (id: string) => this.json<ScheduleView>("GET", `/v1/schedules/${encodeURIComponent(id)}`);
  pauseSchedule = (id: string, paused: boolean) =>
    this.json<ScheduleView>("PATCH", `/v1/schedules/${encodeURIComponent(id)}`, { body: { paused } });
  fireSchedule = (id: string) =>
    this.json<{ runId: string; fireTime: string }>("POST", `/v1/schedules/${encodeURIComponent(id)}/trigger`);
  deleteSchedule = (id: string) => this.request("DELETE", `/v1/schedules/${encodeURIComponent(id)}`);
  triggers = (q: { cursor?: string; limit?: number } = {}) =>
    this.json<{ items: TriggerView[]; nextCursor: string | null }>("GET", "/v1/triggers", { query: q });
  deleteTrigger = (id: string) => this.request("DELETE", `/v1/triggers/${encodeURIComponent(id)}`);

  /** An artifact's bytes, for a download through an object URL (a link could not send the key). */
  async artifactBlob(id: string, name: string): Promise<Blob> {
    return (
      await this.request("GET", `/v1/runs/${encodeURIComponent(id)}/artifacts/${encodeURIComponent(name)}`, {
        accept: "*/*",
      })
    ).blob();
  }

  /** The run's whole event log so far, page by page. */
  async eventLog(id: string, signal?: AbortSignal): Promise<{ items: WireEvent[]; finished: boolean }> {
    const items: WireEvent[] = [];
    let after = 0;
    for (;;) {
      const res = await this.request("GET", `/v1/runs/${encodeURIComponent(id)}/events`, {
        query: { after, limit: 1000 },
        ...(signal ? { signal } : {}),
      });
      const page = (await res.json()) as EventPage;
      items.push(...(page.items as WireEvent[]));
      if (page.nextAfter === null) return { items, finished: page.finished };
      after = page.nextAfter;
    }
  }

  /**
   * Follows the run's events live after `after` (SSE over fetch) until the run's final event or
   * until `signal` aborts; reconnects when the server closes a long stream or the network blips.
   */
  async followEvents(id: string, after: number, onEvent: (e: WireEvent) => void, signal: AbortSignal): Promise<void> {
    let last = after;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const res = await this.request("GET", `/v1/runs/${encodeURIComponent(id)}/events`, {
          query: { after: last },
          accept: "text/event-stream",
          signal,
        });
        if (!res.body) throw new Error("the event stream response has no body");
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        const parser = new SseParser();
        let ended = false;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const m of parser.push(value)) {
            const e = JSON.parse(m.data) as WireEvent;
            last = Math.max(last, e.seq);
            failures = 0;
            onEvent(e);
            if (FINAL_EVENTS.has(e.type)) ended = true;
          }
        }
        if (ended) return;
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ApiError && err.status >= 400 && err.status < 500) throw err;
        failures++;
      }
      // Back off a little when the stream keeps failing; reconnect at once after a clean close.
      if (failures > 0) await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** failures)));
    }
  }
}
