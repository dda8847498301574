/**
 * The TypeScript worker SDK (sdk/worker) against an in-process fake of the pool API: what it sends
 * and when. The real runtime is exercised by test/e2e/worker-sdks.test.ts.
 */
import { describe, expect, it } from "vitest";
import {
  backoff,
  createWorker,
  failure,
  fatal,
  heartbeatEvery,
  type Lease,
  PoolApi,
  route,
  StepError,
} from "../../sdk/worker/src/index.ts";

interface Call {
  method: string;
  path: string;
  body: unknown;
}

/** A pool that hands out `leases` in order, then answers 204; `answer` may override any call. */
function fakePool(leases: Lease[], answer?: (call: Call) => Response | undefined) {
  const calls: Call[] = [];
  const queue = [...leases];
  const fetch = (async (input: string | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    const path = url.pathname.replace(/^\/v1\/pools\/external/, "");
    const raw = init?.body;
    const body =
      typeof raw === "string" ? JSON.parse(raw) : raw instanceof Uint8Array ? new TextDecoder().decode(raw) : null;
    const call = { method: init?.method ?? "GET", path, body };
    calls.push(call);
    const special = answer?.(call);
    if (special) return special;
    if (path === "/leases") {
      const next = queue.shift();
      if (next) return Response.json({ lease: next });
      await new Promise((r) => setTimeout(r, 20));
      return new Response(null, { status: 204 });
    }
    if (path.endsWith("/artifacts/report.md"))
      return Response.json({ name: "report.md", size: 5, sha256: "ab".repeat(32) }, { status: 201 });
    return Response.json({ ok: true });
  }) as typeof globalThis.fetch;
  return { calls, fetch };
}

const lease = (stepId: string, input: Record<string, unknown>, more: Partial<Lease> = {}): Lease => ({
  id: `lse_${stepId}`,
  runId: "run_1",
  stepId,
  attempt: 1,
  type: "external.task",
  input,
  upstream: {},
  timeoutMs: 60_000,
  heartbeatTimeoutMs: null,
  ...more,
});

async function until(check: () => boolean, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const quiet = () => {};
const common = { url: "http://runtime.test", token: "fwk_t", pool: "external", handleSignals: false, logger: quiet };

describe("pure parts", () => {
  it("routes external.task by kind and payload, other job types by type", () => {
    expect(route(lease("a", { kind: "lint", payload: { x: 1 } }))).toEqual({ kind: "lint", input: { x: 1 } });
    expect(route(lease("a", { kind: "lint" }))).toEqual({ kind: "lint", input: {} });
    expect(route(lease("a", { files: 3 }, { type: "acme.lint" }))).toEqual({ kind: "acme.lint", input: { files: 3 } });
  });

  it("heartbeats at a third of the tightest bound, within 100 ms .. 10 s", () => {
    expect(heartbeatEvery(lease("a", {}, { heartbeatTimeoutMs: 1_500 }))).toBe(500);
    expect(heartbeatEvery(lease("a", {}, { timeoutMs: 600_000 }))).toBe(10_000);
    expect(heartbeatEvery(lease("a", {}, { timeoutMs: 90 }))).toBe(100);
  });

  it("turns thrown values into failures: retryable unless marked, codes only when well formed", () => {
    expect(failure(new Error("boom"))).toEqual({ code: "worker.error", message: "boom", retryable: true });
    expect(failure(fatal("bad input"))).toEqual({ code: "worker.fatal", message: "bad input", retryable: false });
    expect(failure(new StepError("x", "acme.lint_failed", false))).toMatchObject({ code: "acme.lint_failed" });
    expect(failure(Object.assign(new Error("y"), { code: "NOT A CODE" })).code).toBe("worker.error");
    expect(failure("plain")).toEqual({ code: "worker.error", message: "plain", retryable: true });
  });

  it("backs off with full jitter under an exponential cap, or as Retry-After says", () => {
    const policy = { attempts: 5, baseMs: 100, maxMs: 1_000 };
    expect(backoff(policy, 1, null, () => 0.999)).toBe(99);
    expect(backoff(policy, 3, null, () => 0.999)).toBe(399);
    expect(backoff(policy, 10, null, () => 0.999)).toBe(999);
    expect(backoff(policy, 1, "0.5")).toBe(500);
    expect(backoff(policy, 1, "120")).toBe(1_000);
  });
});

describe("HTTP retries", () => {
  const retry = { attempts: 4, baseMs: 1, maxMs: 5 };

  it("retries network errors, 5xx and 429, then answers", async () => {
    let n = 0;
    const fetch = (async () => {
      n++;
      if (n === 1) throw new TypeError("fetch failed");
      if (n === 2) return new Response("busy", { status: 503 });
      if (n === 3) return new Response("slow down", { status: 429, headers: { "retry-after": "0" } });
      return Response.json({ ok: true });
    }) as typeof globalThis.fetch;
    const api = new PoolApi({ url: "http://x", token: "t", pool: "p", retry, fetch });
    expect(await api.call("POST", "/leases/l/heartbeat")).toEqual({ status: 200, body: { ok: true } });
    expect(n).toBe(4);
  });

  it("never retries another 4xx, and gives up after its attempts", async () => {
    let n = 0;
    const refusing = (async () => {
      n++;
      return Response.json({ code: "lease.lapsed" }, { status: 409 });
    }) as typeof globalThis.fetch;
    const api = new PoolApi({ url: "http://x", token: "t", pool: "p", retry, fetch: refusing });
    expect((await api.call("POST", "/leases/l/result", { json: {} })).status).toBe(409);
    expect(n).toBe(1);
    let m = 0;
    const down = (async () => {
      m++;
      return new Response("down", { status: 502 });
    }) as typeof globalThis.fetch;
    const dead = new PoolApi({ url: "http://x", token: "t", pool: "p", retry, fetch: down });
    await expect(dead.call("POST", "/leases")).rejects.toThrow(/502/);
    expect(m).toBe(4);
  });
});

describe("createWorker", () => {
  it("runs handlers, uploads artifacts, reports outputs with logs, and fails what throws", async () => {
    const pool = fakePool([
      lease("a", { kind: "report", payload: { title: "T" } }),
      lease("b", { kind: "boom" }),
      lease("c", { kind: "unknown" }),
    ]);
    const worker = createWorker({
      ...common,
      fetch: pool.fetch,
      labels: { gpu: "none" },
      handlers: {
        async report(input, ctx) {
          ctx.log("writing", { title: input.title });
          await ctx.artifact("report.md", "# T\n", "text/markdown");
          return { title: input.title };
        },
        async boom() {
          throw fatal("cannot");
        },
      },
    });
    const started = worker.start();
    await until(() => pool.calls.filter((c) => c.path.endsWith("/result")).length === 3, "three results");
    await worker.stop();
    await started;
    const first = pool.calls.find((c) => c.path === "/leases");
    expect(first?.body).toMatchObject({
      kinds: ["report", "boom", "external.task"],
      labels: { gpu: "none" },
      waitMs: 3_000,
    });
    const results = Object.fromEntries(
      pool.calls.filter((c) => c.path.endsWith("/result")).map((c) => [c.path.split("/")[2], c.body]),
    );
    expect(results.lse_a).toEqual({
      outcome: "succeeded",
      output: { title: "T" },
      artifacts: ["report.md"],
      logs: [{ level: "info", message: "writing", fields: { title: "T" } }],
    });
    expect(results.lse_b).toEqual({
      outcome: "failed",
      error: { code: "worker.fatal", message: "cannot", retryable: false },
    });
    expect(results.lse_c).toMatchObject({ outcome: "failed", error: { code: "worker.no_handler", retryable: false } });
    expect(pool.calls.find((c) => c.path.endsWith("/artifacts/report.md"))?.body).toBe("# T\n");
  });

  it("keeps at most `concurrency` steps in flight", async () => {
    const pool = fakePool([1, 2, 3, 4, 5].map((i) => lease(`s${i}`, { kind: "work" })));
    let now = 0;
    let most = 0;
    const worker = createWorker({
      ...common,
      fetch: pool.fetch,
      concurrency: 2,
      handlers: {
        async work() {
          most = Math.max(most, ++now);
          await new Promise((r) => setTimeout(r, 30));
          now--;
          return {};
        },
      },
    });
    const started = worker.start();
    await until(() => pool.calls.filter((c) => c.path.endsWith("/result")).length === 5, "five results");
    await worker.stop();
    await started;
    expect(most).toBe(2);
  });

  it("a refused heartbeat aborts the handler's signal and its result is never sent", async () => {
    const pool = fakePool([lease("a", { kind: "long" })], (call) =>
      call.path.endsWith("/heartbeat")
        ? Response.json({ code: "lease.lapsed", detail: "the run was cancelled" }, { status: 409 })
        : undefined,
    );
    let reason = "";
    const worker = createWorker({
      ...common,
      fetch: pool.fetch,
      heartbeatMs: 20,
      handlers: {
        async long(_input, ctx) {
          await new Promise((r) => ctx.signal.addEventListener("abort", r));
          reason = String((ctx.signal.reason as Error).message);
          return { late: true };
        },
      },
    });
    const started = worker.start();
    await until(() => reason !== "", "the abort");
    await worker.stop();
    await started;
    expect(reason).toContain("the run was cancelled");
    expect(pool.calls.some((c) => c.path.endsWith("/result") || c.path.endsWith("/release"))).toBe(false);
  });

  it("stop() lets a step finish within the grace, and releases one that does not", async () => {
    const pool = fakePool([lease("quick", { kind: "quick" }), lease("stuck", { kind: "stuck" })]);
    let quickMayEnd: () => void = () => {};
    let stuckAborted = false;
    const worker = createWorker({
      ...common,
      fetch: pool.fetch,
      concurrency: 2,
      shutdownGraceMs: 1_000,
      handlers: {
        quick: () => new Promise((r) => (quickMayEnd = () => r({ quick: true }))),
        // Ignores nothing: it ends only when its signal says the step was given back.
        stuck: (_i, ctx) =>
          new Promise((r) =>
            ctx.signal.addEventListener("abort", () => {
              stuckAborted = true;
              r({});
            }),
          ),
      },
    });
    const started = worker.start();
    await until(() => worker.inFlight === 2, "two steps in flight");
    const stopping = worker.stop();
    quickMayEnd();
    await stopping;
    await started;
    const ends = pool.calls.filter((c) => /\/(result|release)$/.test(c.path)).map((c) => c.path);
    expect(ends.sort()).toEqual(["/leases/lse_quick/result", "/leases/lse_stuck/release"]);
    expect(stuckAborted).toBe(true);
    // Nothing leased after stop() began.
    const lastLease = pool.calls.map((c) => c.path).lastIndexOf("/leases");
    expect(lastLease).toBeLessThan(pool.calls.findIndex((c) => c.path.endsWith("/release")));
  });

  it("a token the runtime refuses ends start() with an error", async () => {
    const pool = fakePool([], (call) =>
      call.path === "/leases" ? Response.json({ code: "auth.unauthenticated" }, { status: 401 }) : undefined,
    );
    const worker = createWorker({ ...common, fetch: pool.fetch, handlers: { x: async () => ({}) } });
    await expect(worker.start()).rejects.toThrow(/refused this worker's token/);
  });
});
