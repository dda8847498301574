/**
 * `npm run bench:tenants`: the hot-tenant simulation of issue 17, in one local `wrangler dev`
 * (workerd), every figure a ratio of two systems measured in the same run.
 *
 * 1. Spread vs concentrated: 1,000 tenants × 1 run each against 1 tenant × 1,000 runs, the same
 *    3-step chain, submitted 32 at a time. Per-tenant objects must not serialise each other: the
 *    first may be at most 20% slower than the second. Time: the server's first `createdAt` to its
 *    last `finishedAt`.
 * 2. Opening rate of a tenant with `shards: 8` against one with `shards: 1`: POST /v1/runs, 64 in
 *    flight, for a fixed count; the runs park (8 concurrent slots, each run an approval gate that
 *    holds no consumer) so the figure is the opening path, not the engine. Locally one workerd thread serves every
 *    object, so the ratio shows what sharding costs on one thread; docs/capacity.md carries the
 *    production model (each shard is its own object, ~1,000 requests/s each).
 *
 * The first comparison runs its two sides twice (A B B A), the second four times (A B B A A B B A),
 * each on tenants of its own. TENANTS_SIM_RUNS scales both (default 1,000 runs; 200 for a quick
 * look). Prints the figures and a JSON line; progress goes to stderr.
 */
import { startRuntime, type Runtime } from "../test/e2e/support/runtime.ts";

const RUNS = Number(process.env.TENANTS_SIM_RUNS ?? 1_000);
const STEPS = 3;
const SUBMIT_CONCURRENCY = 32;
const OPEN_CONCURRENCY = 64;
const LIMITS = { maxConcurrentRuns: 10_000, requestsPerMinute: 1_000_000, monthlyRuns: 100_000_000 };

const chain = {
  project: "sim",
  steps: Array.from({ length: STEPS }, (_, i) => ({
    id: `s${i}`,
    type: "system.hash",
    ...(i ? { dependsOn: [`s${i - 1}`] } : {}),
  })),
};

async function ok(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return res;
}

/** Runs `work(i)` for i in [0, n) with at most `width` in flight. */
async function pool<T>(n: number, width: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await work(i);
      }
    }),
  );
  return out;
}

/** A fetch retried on a dropped connection (setup only: the local server drops a few under a burst). */
async function retried(url: string, init: RequestInit): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (e) {
      if (attempt >= 5) throw e;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

async function tenantKey(rt: Runtime, id: string, limits: Record<string, number>): Promise<string> {
  const admin = { authorization: `Bearer ${rt.adminToken}`, "content-type": "application/json" };
  const created = await retried(`${rt.url}/v1/admin/tenants`, {
    method: "POST",
    headers: admin,
    body: JSON.stringify({ id, name: id, limits }),
  });
  // 409: a retried creation whose first try made it.
  if (created.status !== 409) await ok(created, `creating tenant ${id}`);
  const key = await ok(
    await retried(`${rt.url}/v1/admin/tenants/${id}/keys`, { method: "POST", headers: admin, body: "{}" }),
    `a key for ${id}`,
  );
  return ((await key.json()) as { key: string }).key;
}

const post = (rt: Runtime, key: string, body: unknown) =>
  fetch(`${rt.url}/v1/runs`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

/** Submits one run per key (keys may repeat), waits for all, and returns the server's span in ms. */
async function spread(rt: Runtime, keys: string[]): Promise<number> {
  const runs = await pool(keys.length, SUBMIT_CONCURRENCY, async (i) => {
    const key = keys[i] as string;
    const res = await ok(await post(rt, key, chain), "POST /v1/runs");
    return { key, id: ((await res.json()) as { id: string }).id };
  });
  const times = await pool(runs.length, 16, async (i) => {
    const { key, id } = runs[i] as { key: string; id: string };
    for (const deadline = Date.now() + 300_000; Date.now() < deadline; ) {
      const run = (await (
        await ok(await fetch(`${rt.url}/v1/runs/${id}`, { headers: { authorization: `Bearer ${key}` } }), "GET run")
      ).json()) as { status: string; createdAt: string; finishedAt: string | null };
      if (run.status === "succeeded" && run.finishedAt)
        return { created: Date.parse(run.createdAt), finished: Date.parse(run.finishedAt) };
      if (run.status === "failed" || run.status === "cancelled") throw new Error(`run ${id} ${run.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`run ${id} did not finish`);
  });
  return Math.max(...times.map((t) => t.finished)) - Math.min(...times.map((t) => t.created));
}

/** Opens `RUNS` runs for one key, OPEN_CONCURRENCY in flight; runs per second of wall time. */
async function openingRate(rt: Runtime, key: string): Promise<number> {
  const parked = { project: "sim", steps: [{ id: "gate", type: "approval", input: { title: "parked" } }] };
  const start = performance.now();
  await pool(RUNS, OPEN_CONCURRENCY, async () => ok(await post(rt, key, parked), "POST /v1/runs (open)"));
  return RUNS / ((performance.now() - start) / 1000);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const progress = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

async function main(): Promise<void> {
  const rt = await startRuntime({ ENVIRONMENT: "development" });
  try {
    // Tenants made before anything is timed.
    const many = await pool(RUNS, 4, (i) => tenantKey(rt, `sim-${i}`, LIMITS));
    const one = await tenantKey(rt, "sim-one", LIMITS);
    const manyMore = await pool(RUNS, 4, (i) => tenantKey(rt, `sim2-${i}`, LIMITS));
    const spreadMs: number[] = [];
    const oneMs: number[] = [];
    // A B B A: 1,000 tenants, 1 tenant, 1 tenant, 1,000 (other) tenants.
    progress("tenants made");
    spreadMs.push(await spread(rt, many));
    progress(`spread: ${spreadMs[0]} ms`);
    oneMs.push(await spread(rt, new Array(RUNS).fill(one)));
    progress(`one tenant: ${oneMs[0]} ms`);
    oneMs.push(await spread(rt, new Array(RUNS).fill(one)));
    progress(`one tenant: ${oneMs[1]} ms`);
    spreadMs.push(await spread(rt, manyMore));
    progress(`spread: ${spreadMs[1]} ms`);

    // Runs park in `queued` behind 8 slots: each tenant is new, so neither inherits the other's queue.
    const parkedLimits = { ...LIMITS, maxConcurrentRuns: 8 };
    const rate1: number[] = [];
    const rate8: number[] = [];
    for (const [i, shards] of [1, 8, 8, 1, 1, 8, 8, 1].entries()) {
      const rate = await openingRate(rt, await tenantKey(rt, `hot${shards}-${i}`, { ...parkedLimits, shards }));
      (shards === 1 ? rate1 : rate8).push(rate);
      progress(`opening, shards ${shards}: ${round(rate, 1)} runs/s`);
    }

    const figures = {
      runs: RUNS,
      steps: STEPS,
      spreadMs,
      oneTenantMs: oneMs,
      spreadOverOne: round(mean(spreadMs) / mean(oneMs)),
      openingRunsPerSecond: { shards1: rate1.map((r) => round(r, 1)), shards8: rate8.map((r) => round(r, 1)) },
      shards8OverShards1: round(median(rate8) / median(rate1)),
    };
    process.stdout.write(
      [
        `${RUNS} tenants × 1 run: ${spreadMs.join(" / ")} ms; 1 tenant × ${RUNS} runs: ${oneMs.join(" / ")} ms (${STEPS}-step chain)`,
        `  spread / concentrated time: ${figures.spreadOverOne}× (issue 17 asks ≤ 1.20×)`,
        `opening rate, ${RUNS} runs, ${OPEN_CONCURRENCY} in flight: shards 1 ${figures.openingRunsPerSecond.shards1.join(" / ")} runs/s; shards 8 ${figures.openingRunsPerSecond.shards8.join(" / ")} runs/s`,
        `  shards 8 / shards 1 (medians): ${figures.shards8OverShards1}× (one local workerd thread serves every object)`,
        JSON.stringify(figures),
        "",
      ].join("\n"),
    );
  } finally {
    await rt.stop();
  }
}

await main();
