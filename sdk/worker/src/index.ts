/**
 * @factory-runtime/worker: run Factory Runtime steps in your own process. `createWorker` long-polls
 * the pool for leases (up to `concurrency` steps in flight), runs the handler each step names,
 * heartbeats, uploads artifacts, reports outcomes, and on SIGTERM stops leasing and finishes or
 * gives back (releases) its in-flight steps within the shutdown grace.
 */
import { hostname } from "node:os";
import { Attempt, releaseLease } from "./attempt.ts";
import { DEFAULT_RETRY, PoolApi } from "./http.ts";
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
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
  const graceMs = options.shutdownGraceMs ?? 3_500;
  const logger = options.logger ?? stderrLogger;
  const workerId = options.workerId ?? `${hostname()}-${process.pid}`;
  const api = new PoolApi({
    url: options.url,
    token: options.token,
    pool: options.pool,
    retry: { ...DEFAULT_RETRY, ...options.retry },
    fetch: options.fetch ?? globalThis.fetch,
  });
  const leaseBody = {
    waitMs: options.waitMs ?? 3_000,
    kinds: options.kinds ?? Object.keys(options.handlers),
    ...(options.labels ? { labels: options.labels } : {}),
    workerId,
  };
  const running = new Set<Attempt>();
  const stopping = new AbortController(); // no new leases; idle waits end
  const polls = new AbortController(); // the grace is over: outstanding long polls are cut
  let started: Promise<void> | null = null;
  let stopped: Promise<void> | null = null;
  let fatal: Error | null = null;

  async function execute(lease: Lease): Promise<void> {
    const attempt = new Attempt(lease, { api, handlers: options.handlers, heartbeatMs: options.heartbeatMs, logger });
    running.add(attempt);
    try {
      await Promise.race([attempt.done, attempt.released]);
    } finally {
      running.delete(attempt);
    }
  }

  /** One slot: lease, run, repeat, until the worker stops. */
  async function slot(): Promise<void> {
    while (!stopping.signal.aborted) {
      let answer: Awaited<ReturnType<PoolApi["call"]>>;
      try {
        answer = await api.call("POST", "/leases", { json: leaseBody }, polls.signal);
      } catch (err) {
        if (stopping.signal.aborted) break;
        logger({ msg: "lease call failed", error: String(err) });
        await sleep(1_000, stopping.signal);
        continue;
      }
      if (answer.status === 204) continue;
      if (answer.status === 200) {
        const lease = (answer.body as { lease: Lease }).lease;
        // Leased as the stop began: give it back at once rather than start it.
        if (stopping.signal.aborted) await releaseLease(api, lease, logger);
        else await execute(lease);
        continue;
      }
      logger({ msg: "lease refused", status: answer.status, body: answer.body });
      if (answer.status === 401 || answer.status === 403 || answer.status === 404) {
        fatal = new Error(`the runtime refused this worker's token for pool '${options.pool}' (${answer.status})`);
        void stop();
        break;
      }
      await sleep(1_000, stopping.signal);
    }
  }

  function onSignal(signal: NodeJS.Signals) {
    logger({ msg: "shutting down", signal, inFlight: running.size });
    void stop();
  }

  function stop(): Promise<void> {
    stopped ??= (async () => {
      stopping.abort();
      if (options.handleSignals !== false) {
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
      }
      const graceOver = new AbortController();
      const timer = setTimeout(() => graceOver.abort(), graceMs);
      const over = new Promise((r) => graceOver.signal.addEventListener("abort", r, { once: true }));
      // In-flight steps may finish within the grace; those still running then are given back.
      await Promise.race([Promise.all([...running].map((a) => a.done)), over]);
      await Promise.all([...running].map((a) => a.release()));
      // Long polls end on their own (waitMs is under the grace) and give back what they bring: cut
      // one short and the runtime may still lease a step to this worker that it never hears of.
      await Promise.race([started, over]);
      clearTimeout(timer);
      polls.abort();
      await started;
    })();
    return stopped;
  }

  return {
    start() {
      started ??= (async () => {
        if (options.handleSignals !== false) {
          process.on("SIGTERM", onSignal);
          process.on("SIGINT", onSignal);
        }
        logger({ msg: "started", workerId, pool: options.pool, kinds: leaseBody.kinds, concurrency });
        await Promise.all(Array.from({ length: concurrency }, () => slot()));
      })();
      return started.then(async () => {
        await stop();
        if (fatal) throw fatal;
      });
    },
    stop,
    get inFlight() {
      return running.size;
    },
  };
}
