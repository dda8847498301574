/**
 * `npm run bench`: the runtime, a Cloudflare Workflows peer and a platform-floor peer, driven cell by
 * cell with the same workloads. Every cell, repetition and system gets its own fresh `wrangler dev`
 * with nothing else of ours running. Writes bench/results/latest.json and regenerates
 * docs/benchmarks.md. BENCH_QUICK=1: a tiny version of every cell, for development; BENCH_CELLS:
 * a subset. See docs/benchmarks.md for the method.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { constantRate } from "./load.ts";
import { sampleTree, watchPeakRss, type PeakRss } from "./procs.ts";
import { launch, supports, SYSTEMS, type Launched, type RunState, type System, type SystemName } from "./systems.ts";
import { stepCount } from "./peers/shape.ts";
import { renderReport } from "./report.ts";
import { measureRunStorage } from "./storage.ts";
import type { Cell, CellResult, LoadResult, LoadTest, Results, SystemFigures } from "./results.ts";

const ROOT = join(import.meta.dirname, "..");
const QUICK = process.env.BENCH_QUICK === "1";
const REPS = Number(process.env.BENCH_REPS ?? (QUICK ? 1 : 3));
const POLL_MS = 50;
const BIG_CELL_STEPS = 2_000;
/**
 * The load test: rates tried on the floor, lowest first, for `searchSeconds` each; then the highest
 * one it sustained is offered to every system for `seconds`.
 */
const LOAD = QUICK
  ? { rates: [10, 20, 40], searchSeconds: 2, seconds: 3 }
  : { rates: [25, 50, 75, 100, 150, 200, 300], searchSeconds: 5, seconds: 10 };

/** BENCH_CELLS=chain-s50-r100,fan-200 runs only those cells (the load test only if "load" is listed, the storage figure only if "storage" is). */
const ONLY = process.env.BENCH_CELLS?.split(",")
  .map((x) => x.trim())
  .filter(Boolean);

function cells(): Cell[] {
  return allCells().filter((c) => !ONLY || ONLY.includes(c.id));
}

function allCells(): Cell[] {
  const chains = (steps: number[], runs: number[]): Cell[] =>
    steps.flatMap((s) =>
      runs.map((r) => ({
        id: `chain-s${s}-r${r}`,
        title: `S=${s}, R=${r}`,
        group: "chain" as const,
        workload: { kind: "chain" as const, steps: s },
        runs: r,
      })),
    );
  if (QUICK) {
    return [
      ...chains([1, 10], [1, 10]),
      { id: "fan-20", title: "1 → 20 → 1", group: "fan", workload: { kind: "fan", width: 20 }, runs: 1 },
      {
        id: "microservice",
        title: "microservice blueprint, R=1",
        group: "blueprint",
        workload: { kind: "microservice" },
        runs: 1,
      },
    ];
  }
  return [
    ...chains([1, 10, 50], [1, 20, 100]),
    { id: "fan-200", title: "1 → 200 → 1", group: "fan", workload: { kind: "fan", width: 200 }, runs: 1 },
    {
      id: "microservice",
      title: "microservice blueprint, R=1",
      group: "blueprint",
      workload: { kind: "microservice" },
      runs: 1,
    },
  ];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls until every run is terminal, oldest unfinished first. While the oldest is running, one
 * request every POLL_MS (cheap for the server under test); once a poll finds runs finished, the
 * next ones are polled at once, 1, 2, 4 … 16 at a time, so the last run is seen within about
 * POLL_MS of finishing rather than after R sequential requests.
 */
async function waitAll(system: System, ids: string[], timeoutMs: number): Promise<RunState[]> {
  const deadline = Date.now() + timeoutMs;
  const states = new Map<string, RunState>();
  let width = 1;
  for (;;) {
    const batch = ids.filter((id) => !states.has(id)).slice(0, width);
    if (batch.length === 0) return ids.map((id) => states.get(id)!);
    const polled = await Promise.all(batch.map(async (id) => [id, await system.state(id)] as const));
    for (const [id, state] of polled) if (state.terminal) states.set(id, state);
    if (polled.every(([, s]) => s.terminal)) {
      width = Math.min(16, width * 2);
      continue;
    }
    width = 1;
    if (Date.now() > deadline)
      throw new Error(`${system.name}: ${ids.length - states.size} run(s) not finished after ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
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

/** CPU (ms) the benchmark's own `wrangler dev` trees used, summed as each one stops. */
let systemsCpuMs = 0;

/**
 * Starts `name` alone on fresh state, warms it with one two-step run (the first request compiles
 * the Worker and starts its isolates, which no cell should time), waits until it is idle, runs
 * `body`, then stops it and waits until its processes are gone.
 */
async function alone<T>(name: SystemName, body: (system: Launched) => Promise<T>): Promise<T> {
  const system = await launch(name);
  const interrupted = () => void system.stop().finally(() => process.exit(130));
  process.once("SIGINT", interrupted);
  try {
    await waitAll(system, [await system.submit({ kind: "chain", steps: 2 })], 60_000);
    await waitIdle(system, 10_000);
    return await body(system);
  } finally {
    const spent = sampleTree(system.pid());
    systemsCpuMs += spent.workerdCpuMs + spent.otherCpuMs;
    process.off("SIGINT", interrupted);
    await system.stop();
  }
}

interface Rep {
  /** Per-run creation-to-finish, server timestamps. */
  durationsMs: number[];
  /** First `POST` sent to the last run seen terminal, on the benchmark's clock. */
  clientWindowMs: number;
  /** First run created to last run finished, the server's timestamps. */
  serverWindowMs: number;
  steps: number;
  failed: number;
  /** workerd CPU from the first `POST` until the system is idle again: work after the runs' end counts. */
  cpuMs: number;
  peak: PeakRss;
}

async function measure(system: System, cell: Cell): Promise<Rep> {
  const before = sampleTree(system.pid());
  const stopRss = watchPeakRss(system.pid());
  const start = performance.now();
  const ids = await Promise.all(Array.from({ length: cell.runs }, () => system.submit(cell.workload)));
  const states = await waitAll(system, ids, 300_000);
  const clientWindowMs = performance.now() - start;
  // Batched events, final usage and the like are part of a run's cost even when they land after it.
  await waitIdle(system, 15_000);
  const after = sampleTree(system.pid());
  const peak = stopRss();
  const done = states.filter((s) => s.succeeded && s.createdAt !== null && s.finishedAt !== null);
  const created = Math.min(...done.map((s) => s.createdAt!));
  const finished = Math.max(...done.map((s) => s.finishedAt!));
  const perRun = cell.workload.kind === "microservice" ? (states[0]?.steps ?? 0) : stepCount(cell.workload);
  return {
    durationsMs: done.map((s) => s.finishedAt! - s.createdAt!),
    clientWindowMs,
    serverWindowMs: Math.max(1, finished - created),
    steps: perRun * done.length,
    failed: states.length - done.length,
    cpuMs: after.workerdCpuMs - before.workerdCpuMs,
    peak,
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
    stepsPerSec: median(reps.map((r) => (r.steps / r.clientWindowMs) * 1000)),
    runsPerSec: median(reps.map((r) => ((r.steps ? runs : 0) / r.clientWindowMs) * 1000)),
    msPerStep: median(reps.map((r) => r.clientWindowMs / Math.max(1, r.steps))),
    serverStepsPerSec: median(reps.map((r) => (r.steps / r.serverWindowMs) * 1000)),
    latencyMs: {
      p50: percentile(durations, 50),
      p95: percentile(durations, 95),
      p99: percentile(durations, 99),
      samples: durations.length,
    },
    cpuMsPerStep: median(reps.map((r) => r.cpuMs / Math.max(1, r.steps))),
    peakRssMB: median(reps.map((r) => r.peak.workerdBytes)) / 2 ** 20,
    peakTreeRssMB: median(reps.map((r) => r.peak.treeBytes)) / 2 ** 20,
    failedRuns: reps.reduce((a, r) => a + r.failed, 0),
  };
}

/** Offers `rate` one-step run creations a second for `seconds`, open-loop at a constant rate. */
async function offer(system: System, rate: number, seconds: number): Promise<LoadResult> {
  const before = sampleTree(system.pid());
  const stopRss = watchPeakRss(system.pid());
  const r = await constantRate(system.createRequest(), rate, seconds);
  const peak = stopRss();
  const cpuMs = sampleTree(system.pid()).workerdCpuMs - before.workerdCpuMs;
  return { rate, seconds, ...r, cpuMsPerRequest: cpuMs / Math.max(1, r.sent), peakRssMB: peak.workerdBytes / 2 ** 20 };
}

/** Sustained: every request answered 2xx, and at least 95% of them by one second after the last was due. */
const sustained = (l: LoadResult) => l.non2xx + l.errors === 0 && l.answeredInTime >= 0.95 * l.sent;

/**
 * The floor's highest sustained rate by a short step search (a fresh floor per step), then that
 * same rate offered to each system alone, REPS times, the order rotating.
 */
async function loadTest(): Promise<LoadTest> {
  const search: LoadTest["search"] = [];
  for (const rate of LOAD.rates) {
    const l = await alone("floor", (s) => offer(s, rate, LOAD.searchSeconds));
    search.push({
      rate,
      sustained: sustained(l),
      answeredInTime: l.answeredInTime,
      sent: l.sent,
      failed: l.non2xx + l.errors,
      p99: l.latencyMs.p99,
    });
    console.log(
      `load search: floor at ${rate}/s ${sustained(l) ? "sustained" : "not sustained"} (${l.answeredInTime} of ${l.sent} answered in time, p99 ${l.latencyMs.p99} ms)`,
    );
    if (!sustained(l)) break;
  }
  const best = search.filter((s) => s.sustained).at(-1);
  const rate = best?.rate ?? LOAD.rates[0]!;
  const reps = new Map<SystemName, LoadResult[]>();
  for (let rep = 0; rep < REPS; rep++) {
    for (const name of rotate(SYSTEMS, rep)) {
      const l = await alone(name, (s) => offer(s, rate, LOAD.seconds));
      reps.set(name, [...(reps.get(name) ?? []), l]);
      console.log(
        `POST at ${rate}/s ${name}: p50 ${l.latencyMs.p50} ms, p99 ${l.latencyMs.p99} ms, ${l.non2xx + l.errors} failed`,
      );
    }
  }
  return {
    seconds: LOAD.seconds,
    searchSeconds: LOAD.searchSeconds,
    search,
    rate,
    floorSustains: best !== undefined,
    systems: Object.fromEntries(
      [...reps].map(([name, ls]) => [name, { p99: median(ls.map((l) => l.latencyMs.p99)), reps: ls }]),
    ),
  };
}

/** `xs` starting at position `k`: over consecutive k, each system goes first, second and last in turn. */
function rotate<T>(xs: readonly T[], k: number): T[] {
  return xs.map((_, i) => xs[(i + k) % xs.length]!);
}

/** Busy jiffies of the whole machine (all CPUs), to tell how much else ran during the bench. */
function machineBusyMs(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const tick = 1000 / Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return (f.reduce((a, b) => a + b, 0) - idle) * tick;
}

function machine() {
  const version = (pkg: string) =>
    (JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
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
  console.log(
    `bench: ${QUICK ? "quick" : "full"}, ${REPS} repetition(s) per cell, each system alone on a fresh wrangler dev, on ${host.nproc} × ${host.cpuModel}`,
  );

  const results: CellResult[] = [];
  for (const [index, cell] of cells().entries()) {
    const measured = new Map<SystemName, Rep[]>();
    // A cell of thousands of steps is a large sample on its own: once keeps the bench's wall time down.
    const reps = cell.runs * (cell.workload.kind === "chain" ? cell.workload.steps : 1) > BIG_CELL_STEPS ? 1 : REPS;
    for (let rep = 0; rep < reps; rep++) {
      // The offset moves with the cell too, so a cell run once does not always start with the same system.
      for (const name of rotate(SYSTEMS, index + rep).filter((n) => supports(n, cell.workload))) {
        measured.set(name, [...(measured.get(name) ?? []), await alone(name, (s) => measure(s, cell))]);
      }
    }
    const result: CellResult = {
      ...cell,
      systems: Object.fromEntries([...measured].map(([name, r]) => [name, figures(r, cell.runs)])),
    };
    results.push(result);
    console.log(
      `${cell.title.padEnd(32)} ` +
        Object.entries(result.systems)
          .map(
            ([n, x]) =>
              `${n} ${x.stepsPerSec.toFixed(0)} steps/s cpu ${x.cpuMsPerStep.toFixed(2)} ms/step rss ${x.peakRssMB.toFixed(0)} MB`,
          )
          .join(" | "),
    );
  }

  const load = !ONLY || ONLY.includes("load") ? await loadTest() : null;
  const storage = !ONLY || ONLY.includes("storage") ? await measureRunStorage() : null;
  if (storage) console.log(`storage: a finished one-step run's database, hot: ${storage.hotOneStepRunDbBytes} bytes`);

  const wallMs = Date.now() - started;
  const ownCpuMs = systemsCpuMs + process.cpuUsage().user / 1000 + process.cpuUsage().system / 1000;
  const out: Results = {
    date: new Date(started).toISOString(),
    mode: QUICK ? "quick" : "full",
    method: "isolated",
    repetitions: REPS,
    machine: { ...host, loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
    wallSeconds: Math.round(wallMs / 1000),
    // CPU the rest of the machine used meanwhile, in cores: other people's tests, say.
    otherProcessesCores: Math.max(0, (machineBusyMs() - busyAtStart - ownCpuMs) / wallMs),
    cells: results,
    load,
    storage,
  };
  mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
  // Only a full run of every cell is the published result.
  const file = QUICK ? "quick.json" : ONLY ? "partial.json" : "latest.json";
  writeFileSync(join(ROOT, "bench", "results", file), `${JSON.stringify(out, null, 2)}\n`);
  if (file === "latest.json") writeFileSync(join(ROOT, "docs", "benchmarks.md"), renderReport(out));
  console.log(
    `bench: done in ${out.wallSeconds} s; wrote bench/results/${file}${file === "latest.json" ? " and docs/benchmarks.md" : ""}`,
  );
}

await main();
