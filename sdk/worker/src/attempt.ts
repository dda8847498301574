/**
 * One leased attempt: runs its handler with a context, heartbeats while it runs, and ends the lease
 * exactly once — with a result, or with a release when the worker shuts down first. A refused
 * heartbeat (the run cancelled the step, or the lease lapsed and another worker has it) aborts the
 * handler's signal; whatever it returns after that is dropped, since the runtime would refuse it.
 */
import type { PoolApi } from "./http.ts";
import { type Handler, type Lease, type LogLevel, type StepContext, StepError } from "./types.ts";

export interface AttemptDeps {
  api: PoolApi;
  handlers: Record<string, Handler>;
  heartbeatMs?: number;
  logger: (line: Record<string, unknown>) => void;
}

const MAX_LOGS = 50;
const CODE = /^[a-z][a-z0-9_.-]{0,99}$/;

/** The operator's pool's one job type: its steps name their handler by `kind`. */
export const EXTERNAL_TASK = "external.task";

/** The handler a lease asks for, and its input: `external.task` names it by `kind`, other types by type. */
export function route(lease: Lease): { kind: string; input: Record<string, unknown> } {
  if (lease.type === EXTERNAL_TASK && typeof lease.input.kind === "string") {
    const payload = lease.input.payload;
    return {
      kind: lease.input.kind,
      input: payload && typeof payload === "object" ? (payload as Record<string, unknown>) : {},
    };
  }
  return { kind: lease.type, input: lease.input };
}

/** A third of the tightest bound the runtime holds the lease to, kept between 100 ms and 10 s. */
export function heartbeatEvery(lease: Lease): number {
  const bound = Math.min(lease.heartbeatTimeoutMs ?? Number.POSITIVE_INFINITY, lease.timeoutMs);
  return Math.max(100, Math.min(10_000, Math.floor(bound / 3)));
}

/** A thrown value as the runtime's failure: its code if it names one, retryable unless it says not. */
export function failure(err: unknown): { code: string; message: string; retryable: boolean } {
  const e = (err ?? {}) as { code?: unknown; message?: unknown; retryable?: unknown };
  const code = typeof e.code === "string" && CODE.test(e.code) ? e.code : "worker.error";
  const message = String(typeof e.message === "string" ? e.message : err).slice(0, 2_000);
  return { code, message, retryable: e.retryable !== false };
}

/** Gives back a lease that was never started (it arrived as the worker began to stop). */
export async function releaseLease(api: PoolApi, lease: Lease, logger: AttemptDeps["logger"]): Promise<void> {
  const answer = await api.call("POST", `/leases/${encodeURIComponent(lease.id)}/release`).catch((err: unknown) => err);
  const { runId, stepId, attempt } = lease;
  logger({ msg: "released", runId, stepId, attempt, status: (answer as { status?: number }).status ?? String(answer) });
}

export class Attempt {
  /** The handler returned and its result (if still wanted) was sent. */
  readonly done: Promise<void>;
  /** The lease was given back: the slot need not wait for a handler that ignores its signal. */
  readonly released: Promise<void>;
  private markReleased: () => void = () => {};
  private readonly controller = new AbortController();
  private readonly logs: { level: LogLevel; message: string; fields?: Record<string, unknown> }[] = [];
  private readonly artifacts = new Set<string>();
  private ended = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly at: string;
  private readonly lease: Lease;
  private readonly deps: AttemptDeps;

  constructor(lease: Lease, deps: AttemptDeps) {
    this.lease = lease;
    this.deps = deps;
    this.at = `/leases/${encodeURIComponent(lease.id)}`;
    this.released = new Promise((resolve) => {
      this.markReleased = resolve;
    });
    this.done = this.run();
  }

  /** The worker is going away: end the lease with a release unless a result already ended it. */
  async release(): Promise<void> {
    if (!this.claim()) return;
    this.controller.abort(new Error("the worker is shutting down; the step was released"));
    const answer = await this.deps.api.call("POST", `${this.at}/release`).catch((err: unknown) => err);
    this.note("released", { status: (answer as { status?: number }).status ?? String(answer) });
    this.markReleased();
  }

  private async run(): Promise<void> {
    const { kind, input } = route(this.lease);
    this.note("leased", { kind });
    const handler = this.deps.handlers[kind];
    this.timer = setInterval(() => void this.beat(), this.deps.heartbeatMs ?? heartbeatEvery(this.lease));
    // The first beat at once claims the lease: one unused for the runtime's LEASE_CLAIM_MS is given back.
    void this.beat();
    let body: Record<string, unknown>;
    try {
      if (!handler) throw new StepError(`this worker has no handler for '${kind}'`, "worker.no_handler", false);
      const output = (await handler(input, this.context(kind))) ?? {};
      if (typeof output !== "object" || Array.isArray(output))
        throw new StepError("a handler returns a JSON object (or nothing)", "worker.bad_output", false);
      body = { outcome: "succeeded", output, artifacts: [...this.artifacts] };
    } catch (err) {
      body = { outcome: "failed", error: failure(err) };
    } finally {
      clearInterval(this.timer);
    }
    if (!this.claim()) return; // released or lapsed meanwhile: nobody wants this result
    if (this.logs.length) body.logs = this.logs;
    const answer = await this.deps.api.call("POST", `${this.at}/result`, { json: body }).catch((err: unknown) => err);
    const status = (answer as { status?: number }).status;
    this.note("reported", { outcome: body.outcome, status: status ?? String(answer) });
  }

  /** Whoever claims the lease first (a result, a release, a refused heartbeat) ends it. */
  private claim(): boolean {
    if (this.ended) return false;
    this.ended = true;
    clearInterval(this.timer);
    return true;
  }

  private async beat(): Promise<boolean> {
    if (this.ended) return false;
    const answer = await this.deps.api.call("POST", `${this.at}/heartbeat`).catch(() => null);
    if (answer === null || answer.status === 200) return !this.ended; // unreachable: keep working, keep trying
    if (this.claim()) {
      const reason = (answer.body as { detail?: string } | null)?.detail ?? `heartbeat answered ${answer.status}`;
      this.controller.abort(new Error(`the lease is over: ${reason}`));
      this.note("lapsed", { status: answer.status });
    }
    return false;
  }

  private context(kind: string): StepContext {
    const l = this.lease;
    return {
      runId: l.runId,
      stepId: l.stepId,
      attempt: l.attempt,
      type: l.type,
      kind,
      upstream: l.upstream,
      timeoutMs: l.timeoutMs,
      signal: this.controller.signal,
      log: (message, fields, level = "info") => {
        if (this.logs.length < MAX_LOGS)
          this.logs.push({ level, message: String(message).slice(0, 2_000), ...(fields ? { fields } : {}) });
        this.note("log", { level, message, ...(fields ? { fields } : {}) });
      },
      artifact: async (name, bytes, contentType = "application/octet-stream") => {
        const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
        const path = `${this.at}/artifacts/${encodeURIComponent(name)}`;
        const answer = await this.deps.api.call("PUT", path, { bytes: data, contentType }, this.controller.signal);
        if (answer.status !== 201) throw new StepError(`upload of '${name}' answered ${answer.status}`);
        this.artifacts.add(name);
        return answer.body as { name: string; size: number; sha256: string };
      },
      heartbeat: () => this.beat(),
    };
  }

  /** The worker's own log line; it names the attempt, never the lease id (a secret). */
  private note(msg: string, extra: Record<string, unknown>): void {
    const { runId, stepId, attempt } = this.lease;
    this.deps.logger({ msg, runId, stepId, attempt, ...extra });
  }
}
