/**
 * @factory-runtime/worker: run Factory Runtime steps in your own process. `createWorker` long-polls
 * the pool for leases (up to `concurrency` steps in flight), runs the handler each step names,
 * heartbeats, uploads artifacts, reports outcomes, and on SIGTERM stops leasing and finishes or
 * gives back (releases) its in-flight steps within the shutdown grace.
 */
import { hostname } from "node:os";
import { Attempt, EXTERNAL_TASK, releaseLease } from "./attempt.ts";
import { type Answer, DEFAULT_RETRY, PoolApi } from "./http.ts";
import type { Lease, Worker, WorkerOptions } from "./types.ts";

export { backoff, DEFAULT_RETRY, PoolApi, type RetryPolicy, UnreachableError } from "./http.ts";
export { failure, heartbeatEvery, route } from "./attempt.ts";
export * from "./types.ts";

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

const stderrLogger = (line: Record<string, unknown>) => process.stderr.write(`${JSON.stringify(line)}\n`);

export function createWorker(options: WorkerOptions): Worker {
  return new PoolWorker(options);
}

/** The worker behind `createWorker`: `concurrency` slots, each leasing and running one step at a time. */
class PoolWorker implements Worker {
  private readonly options: WorkerOptions;
  private readonly api: PoolApi;
  private readonly logger: (line: Record<string, unknown>) => void;
  private readonly leaseBody: { waitMs: number; kinds: string[]; labels?: Record<string, string>; workerId: string };
  private readonly running = new Set<Attempt>();
  private readonly stopping = new AbortController(); // no new leases; idle waits end
  private readonly polls = new AbortController(); // the grace is over: outstanding long polls are cut
  private started: Promise<void> | null = null;
  private stopped: Promise<void> | null = null;
  private fatal: Error | null = null;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.logger({ msg: "shutting down", signal, inFlight: this.running.size });
    void this.stop();
  };

  constructor(options: WorkerOptions) {
    this.options = options;
    this.logger = options.logger ?? stderrLogger;
    this.api = new PoolApi({
      url: options.url,
      token: options.token,
      pool: options.pool,
      retry: { ...DEFAULT_RETRY, ...options.retry },
      fetch: options.fetch ?? globalThis.fetch,
    });
    this.leaseBody = {
      waitMs: options.waitMs ?? 3_000,
      kinds: options.kinds ?? defaultKinds(options.handlers),
      ...(options.labels ? { labels: options.labels } : {}),
      workerId: options.workerId ?? `${hostname()}-${process.pid}`,
    };
  }

  get inFlight(): number {
    return this.running.size;
  }

  start(): Promise<void> {
    this.started ??= (async () => {
      if (this.options.handleSignals !== false) {
        process.on("SIGTERM", this.onSignal);
        process.on("SIGINT", this.onSignal);
      }
      const concurrency = Math.max(1, Math.floor(this.options.concurrency ?? 1));
      const { workerId, kinds } = this.leaseBody;
      this.logger({ msg: "started", workerId, pool: this.options.pool, kinds, concurrency });
      await Promise.all(Array.from({ length: concurrency }, () => this.slot()));
    })();
    return this.started.then(async () => {
      await this.stop();
      if (this.fatal) throw this.fatal;
    });
  }

  stop(): Promise<void> {
    this.stopped ??= this.drain();
    return this.stopped;
  }

  /** No new leases; in-flight steps may finish within the grace; those still running then are given back. */
  private async drain(): Promise<void> {
    this.stopping.abort();
    if (this.options.handleSignals !== false) {
      process.off("SIGTERM", this.onSignal);
      process.off("SIGINT", this.onSignal);
    }
    const graceOver = new AbortController();
    const timer = setTimeout(() => graceOver.abort(), this.options.shutdownGraceMs ?? 3_500);
    const over = new Promise((r) => graceOver.signal.addEventListener("abort", r, { once: true }));
    await Promise.race([Promise.all([...this.running].map((a) => a.done)), over]);
    await Promise.all([...this.running].map((a) => a.release()));
    // Long polls end on their own (waitMs is under the grace) and give back what they bring: cut
    // one short and the runtime may still lease a step to this worker that it never hears of.
    await Promise.race([this.started, over]);
    clearTimeout(timer);
    this.polls.abort();
    await this.started;
  }

  /** One slot: lease, run, repeat, until the worker stops. */
  private async slot(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      let answer: Answer;
      try {
        answer = await this.api.call("POST", "/leases", { json: this.leaseBody }, this.polls.signal);
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        this.logger({ msg: "lease call failed", error: String(err) });
        await sleep(1_000, this.stopping.signal);
        continue;
      }
      if (answer.status === 204) continue;
      if (answer.status === 200) {
        await this.take((answer.body as { lease: Lease }).lease);
        continue;
      }
      this.logger({ msg: "lease refused", status: answer.status, body: answer.body });
      if (answer.status === 401 || answer.status === 403 || answer.status === 404) {
        this.fatal = new Error(
          `the runtime refused this worker's token for pool '${this.options.pool}' (${answer.status})`,
        );
        void this.stop();
        break;
      }
      await sleep(1_000, this.stopping.signal);
    }
  }

  /** Runs a leased step, or gives it back at once if it arrived as the stop began. */
  private async take(lease: Lease): Promise<void> {
    if (this.stopping.signal.aborted) return releaseLease(this.api, lease, this.logger);
    const { api, logger } = this;
    const attempt = new Attempt(lease, {
      api,
      handlers: this.options.handlers,
      heartbeatMs: this.options.heartbeatMs,
      logger,
    });
    this.running.add(attempt);
    try {
      await Promise.race([attempt.done, attempt.released]);
    } finally {
      this.running.delete(attempt);
    }
  }
}

/**
 * The job types a worker asks the pool for: its handlers' names, and `external.task`, whose steps
 * the operator's pool routes by pool alone (the task's `kind`, inside its input, picks the handler).
 */
function defaultKinds(handlers: Record<string, unknown>): string[] {
  return [...Object.keys(handlers), EXTERNAL_TASK];
}
