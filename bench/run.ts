/**
 * `npm run bench`: the runtime, a Cloudflare Workflows peer and a platform-floor peer, each under
 * its own `wrangler dev`, driven cell by cell with the same workloads, interleaved. Writes
 * bench/results/latest.json and regenerates docs/benchmarks.md. BENCH_QUICK=1: a tiny version of
 * every cell, for development. See docs/benchmarks.md for the method.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { startRuntime } from "../test/e2e/support/runtime.ts";
import { startPeer } from "./peers.ts";
import { sampleTree, watchPeakRss } from "./procs.ts";
import { peerSystem, runtimeSystem, type RunState, type System, type SystemName, type Workload } from "./systems.ts";
import { stepCount } from "./peers/shape.ts";
import { readBefore, renderReport } from "./report.ts";
import type { Cell, CellResult, Results, SystemFigures } from "./results.ts";

const ROOT = join(import.meta.dirname, "..");
const QUICK = process.env.BENCH_QUICK === "1";
const REPS = Number(process.env.BENCH_REPS ?? (QUICK ? 1 : 3));
const POLL_MS = 100;
const BIG_CELL_STEPS = 2_000;
// Enough connections to offer the full rate even when answers are slow; the achieved rate is reported.
const LOAD = QUICK ? { rate: 50, seconds: 3, connections: 50 } : { rate: 200, seconds: 10, connections: 100 };

/** BENCH_CELLS=chain-s50-r100,fan-200 runs only those cells (and the load test only if "load" is listed). */
const ONLY = process.env.BENCH_CELLS?.split(",").map((x) => x.trim()).filter(Boolean);

function cells(): Cell[] {
  return allCells().filter((c) => !ONLY || ONLY.includes(c.id));
}

function allCells(): Cell[] {
  const chains = (steps: number[], runs: number[]): Cell[] =>
    steps.flatMap((s) => runs.map((r) => ({ id: `chain-s${s}-r${r}`, title: `S=${s}, R=${r}`, group: "chain" as const, workload: { kind: "chain" as const, steps: s }, runs: r })));
  if (QUICK) {
    return [
      ...chains([1, 10], [1, 10]),
      { id: "fan-20", title: "1 → 20 → 1", group: "fan", workload: { kind: "fan", width: 20 }, runs: 1 },
      { id: "microservice", title: "microservice blueprint, R=1", group: "blueprint", workload: { kind: "microservice" }, runs: 1 },
    ];
  }
  return [
    ...chains([1, 10, 50], [1, 20, 100]),
    { id: "fan-200", title: "1 → 200 → 1", group: "fan", workload: { kind: "fan", width: 200 }, runs: 1 },
    { id: "microservice", title: "microservice blueprint, R=1", group: "blueprint", workload: { kind: "microservice" }, runs: 1 },
  ];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls each run in turn until it is terminal: about one request in flight, whatever R is. */
async function waitAll(system: System, ids: string[], timeoutMs: number): Promise<RunState[]> {
  const deadline = Date.now() + timeoutMs;
  const states: RunState[] = [];
  for (const id of ids) {
    for (;;) {
      const state = await system.state(id);
      if (state.terminal) {
        states.push(state);
        break;
      }
      if (Date.now() > deadline) throw new Error(`${system.name}: run ${id} not finished after ${timeoutMs} ms`);
      await sleep(POLL_MS);
    }
  }
  return states;
}

/** Waits until a system's workerd uses under 5% of a core for a second (its backlog drained). */
async function waitIdle(system: System, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = sampleTree(system.pid()).workerdCpuMs;
  while (Date.now() < deadline) {
    await sleep(1000);
    const now = sampleTree(system.pid()).workerdCpuMs;
    if (now - last < 50) return;
    last = now;
  }
}

interface Rep {
  durationsMs: number[];
  windowMs: number;
  steps: number;
  failed: number;
  cpuMs: number;
  peakRssBytes: number;
}

async function measure(system: System, cell: Cell): Promise<Rep> {
  await waitIdle(system, 10_000);
  const before = sampleTree(system.pid());
  const stopRss = watchPeakRss(system.pid());
  const ids = await Promise.all(Array.from({ length: cell.runs }, () => system.submit(cell.workload)));
  const states = await waitAll(system, ids, 300_000);
  const after = sampleTree(system.pid());
  const peakRssBytes = stopRss();
  const done = states.filter((s) => s.succeeded && s.createdAt !== null && s.finishedAt !== null);
  const created = Math.min(...done.map((s) => s.createdAt!));
  const finished = Math.max(...done.map((s) => s.finishedAt!));
  const perRun = cell.workload.kind === "microservice" ? (states[0]?.steps ?? 0) : stepCount(cell.workload);
  return {
    durationsMs: done.map((s) => s.finishedAt! - s.createdAt!),
    windowMs: Math.max(1, finished - created),
    steps: perRun * done.length,
    failed: states.length - done.length,
    cpuMs: after.workerdCpuMs - before.workerdCpuMs,
    peakRssBytes,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** Nearest-rank percentile. */
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

function figures(reps: Rep[], runs: number): SystemFigures {
  const durations = reps.flatMap((r) => r.durationsMs);
  return {
    reps: reps.length,
    stepsPerSec: median(reps.map((r) => (r.steps / r.windowMs) * 1000)),
    runsPerSec: median(reps.map((r) => ((r.steps ? runs : 0) / r.windowMs) * 1000)),
    msPerStep: median(reps.map((r) => r.windowMs / Math.max(1, r.steps))),
    latencyMs: { p50: percentile(durations, 50), p95: percentile(durations, 95), p99: percentile(durations, 99), samples: durations.length },
    cpuMsPerStep: median(reps.map((r) => r.cpuMs / Math.max(1, r.steps))),
    peakRssMB: Math.max(...reps.map((r) => r.peakRssBytes)) / 2 ** 20,
    failedRuns: reps.reduce((a, r) => a + r.failed, 0),
  };
}

async function loadTest(system: System) {
  const { url, headers, body } = system.createRequest();
  const before = sampleTree(system.pid());
  const stopRss = watchPeakRss(system.pid());
  const r = await autocannon({ url, method: "POST", headers, body, connections: LOAD.connections, overallRate: LOAD.rate, duration: LOAD.seconds, timeout: 30 });
  const peakRssBytes = stopRss();
  const cpuMs = sampleTree(system.pid()).workerdCpuMs - before.workerdCpuMs;
  // The runs it created are still executing: let them finish before anything else is measured.
  await waitIdle(system, 120_000);
  return {
    rate: LOAD.rate,
    seconds: LOAD.seconds,
    requests: r.requests.total,
    achievedRate: r.requests.total / LOAD.seconds,
    ok: r["2xx"],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p97_5: r.latency.p97_5, p99: r.latency.p99, max: r.latency.max },
    cpuMsPerRequest: cpuMs / Math.max(1, r.requests.total),
    peakRssMB: peakRssBytes / 2 ** 20,
  };
}

/** Busy jiffies of the whole machine (all CPUs), to tell how much else ran during the bench. */
function machineBusyMs(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const tick = 1000 / Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return (f.reduce((a, b) => a + b, 0) - idle) * tick;
}

function machine() {
  const version = (pkg: string) => (JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT }).toString().trim();
  return {
    cpuModel: cpus()[0]?.model ?? "unknown",
    nproc: Number(execFileSync("nproc").toString().trim()),
    memGiB: Math.round(totalmem() / 2 ** 30),
    loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.version,
    wrangler: version("wrangler"),
    workerd: version("workerd"),
    commit,
  };
}

async function main() {
  const started = Date.now();
  const busyAtStart = machineBusyMs();
  const host = machine();
  console.log(`bench: ${QUICK ? "quick" : "full"}, ${REPS} repetition(s) per cell, on ${host.nproc} × ${host.cpuModel}`);

  const [rt, workflows, floor] = await Promise.all([
    startRuntime({ ENVIRONMENT: "development" }),
    startPeer("workflows"),
    startPeer("floor"),
  ]);
  const stopAll = () => {
    void rt.stop();
    workflows.stop();
    floor.stop();
  };
  process.on("SIGINT", () => (stopAll(), process.exit(130)));
  try {
    // A tenant whose limits are out of the way: the benchmark measures the engine, not admission.
    const admin = { authorization: `Bearer ${rt.adminToken}`, "content-type": "application/json" };
    const tenant = await fetch(`${rt.url}/v1/admin/tenants`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ id: "bench", name: "benchmark", limits: { maxConcurrentRuns: 10_000, requestsPerMinute: 1_000_000, monthlyRuns: 100_000_000 } }),
    });
    if (!tenant.ok) throw new Error(`creating the bench tenant: ${tenant.status} ${await tenant.text()}`);
    const key = await fetch(`${rt.url}/v1/admin/tenants/bench/keys`, { method: "POST", headers: admin, body: JSON.stringify({ name: "bench" }) });
    if (!key.ok) throw new Error(`creating the bench key: ${key.status} ${await key.text()}`);
    const systems: System[] = [
      runtimeSystem(rt, ((await key.json()) as { key: string }).key),
      peerSystem("workflows", workflows),
      peerSystem("floor", floor),
    ];

    // Warm-up: the first request of each Worker compiles and starts isolates.
    for (const s of systems) await waitAll(s, [await s.submit({ kind: "chain", steps: 2 })], 60_000);

    const results: CellResult[] = [];
    for (const cell of cells()) {
      const measured = new Map<SystemName, Rep[]>();
      // A cell of thousands of steps is a large sample on its own: once keeps the bench under 15 minutes.
      const reps = cell.runs * (cell.workload.kind === "chain" ? cell.workload.steps : 1) > BIG_CELL_STEPS ? 1 : REPS;
      for (let rep = 0; rep < reps; rep++) {
        // Rotate the order each repetition, so no system always runs right after another's burst.
        const order = systems.map((_, i) => systems[(i + rep) % systems.length]!).filter((s) => s.supports(cell.workload));
        for (const system of order) measured.set(system.name, [...(measured.get(system.name) ?? []), await measure(system, cell)]);
      }
      const result: CellResult = { ...cell, systems: Object.fromEntries([...measured].map(([name, r]) => [name, figures(r, cell.runs)])) };
      results.push(result);
      const f = result.systems;
      console.log(
        `${cell.title.padEnd(32)} ` +
          Object.entries(f).map(([n, x]) => `${n} ${x.stepsPerSec.toFixed(0)} steps/s p50 ${x.latencyMs.p50} ms cpu ${x.cpuMsPerStep.toFixed(2)} ms/step`).join(" | "),
      );
    }

    const load: Results["load"] = {};
    for (const system of !ONLY || ONLY.includes("load") ? systems : []) {
      load[system.name] = await loadTest(system);
      console.log(`POST at ${LOAD.rate}/s ${system.name}: p50 ${load[system.name]!.latencyMs.p50} ms, p99 ${load[system.name]!.latencyMs.p99} ms`);
    }

    const wallMs = Date.now() - started;
    const ownCpuMs = systems.reduce((a, s) => a + sampleTree(s.pid()).workerdCpuMs + sampleTree(s.pid()).otherCpuMs, 0) + process.cpuUsage().user / 1000 + process.cpuUsage().system / 1000;
    const out: Results = {
      date: new Date(started).toISOString(),
      mode: QUICK ? "quick" : "full",
      repetitions: REPS,
      machine: { ...host, loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
      wallSeconds: Math.round(wallMs / 1000),
      // CPU the rest of the machine used meanwhile, in cores: other people's tests, say.
      otherProcessesCores: Math.max(0, (machineBusyMs() - busyAtStart - ownCpuMs) / wallMs),
      cells: results,
      load,
    };
    mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
    // Only a full run of every cell is the published result.
    const file = QUICK ? "quick.json" : ONLY ? "partial.json" : "latest.json";
    writeFileSync(join(ROOT, "bench", "results", file), JSON.stringify(out, null, 2) + "\n");
    if (file === "latest.json") writeFileSync(join(ROOT, "docs", "benchmarks.md"), renderReport(out, readBefore()));
    console.log(`bench: done in ${out.wallSeconds} s; wrote bench/results/${file}${file === "latest.json" ? " and docs/benchmarks.md" : ""}`);
  } finally {
    stopAll();
  }
}

await main();
