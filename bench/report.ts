/**
 * Renders docs/benchmarks.md from a results file. Run by `npm run bench`; on its own,
 * `npm run bench:report [-- file.json]` regenerates the page from stored results.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CellResult, Results, SystemFigures } from "./results.ts";
import type { SystemName } from "./systems.ts";

const PEERS = ["floor", "workflows"] as const;
const NAMES: Record<SystemName, string> = { runtime: "runtime", floor: "floor", workflows: "Workflows" };

const num = (x: number | undefined, digits = 0) =>
  x === undefined || !Number.isFinite(x) ? "–" : x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !b ? "–" : `${(a / b).toFixed(2)}×`);

type Pick = (f: SystemFigures) => number;

/** One row per cell: the runtime's figure, each peer's, and the runtime's ratio to each peer. */
function table(cells: CellResult[], label: string, pick: Pick, digits: number): string {
  const head = `| cell | runtime | floor | Workflows | runtime ÷ floor | runtime ÷ Workflows |\n|---|---:|---:|---:|---:|---:|`;
  const rows = cells.map((c) => {
    const r = c.systems.runtime && pick(c.systems.runtime);
    const p = PEERS.map((n) => c.systems[n] && pick(c.systems[n]!));
    return `| ${c.title} | ${num(r, digits)} | ${num(p[0], digits)} | ${num(p[1], digits)} | ${ratio(r, p[0])} | ${ratio(r, p[1])} |`;
  });
  return `**${label}**\n\n${head}\n${rows.join("\n")}`;
}

function latencyTable(cells: CellResult[]): string {
  const head = `| cell | runtime p50 / p95 / p99 | floor p50 / p95 / p99 | Workflows p50 / p95 / p99 | p50 ÷ floor | p50 ÷ Workflows |\n|---|---:|---:|---:|---:|---:|`;
  const l = (f?: SystemFigures) => (f ? `${f.latencyMs.p50} / ${f.latencyMs.p95} / ${f.latencyMs.p99}` : "–");
  const rows = cells.map((c) => {
    const [r, fl, wf] = [c.systems.runtime, c.systems.floor, c.systems.workflows];
    return `| ${c.title} | ${l(r)} | ${l(fl)} | ${l(wf)} | ${ratio(r?.latencyMs.p50, fl?.latencyMs.p50)} | ${ratio(r?.latencyMs.p50, wf?.latencyMs.p50)} |`;
  });
  return `**Run latency, submission to terminal state (ms, server timestamps)**\n\n${head}\n${rows.join("\n")}`;
}

export interface Target {
  name: string;
  goal: string;
  measured: string;
  met: boolean | null;
  /** How far off, when not met. */
  gap: string;
}

/** The issue's targets, checked against this run's figures. */
export function targets(res: Results): Target[] {
  const cell = (id: string) => res.cells.find((c) => c.id === id)?.systems;
  const out: Target[] = [];
  for (const id of ["chain-s10-r1", "chain-s50-r1", "chain-s10-r100", "chain-s50-r100"]) {
    const s = cell(id);
    const r = s?.runtime?.msPerStep;
    const f = s?.floor?.msPerStep;
    const x = r !== undefined && f !== undefined ? r / f : undefined;
    out.push({
      name: `per-step time, ${res.cells.find((c) => c.id === id)?.title ?? id}`,
      goal: "≤ 1.2× floor",
      measured: x === undefined ? "–" : `${r!.toFixed(2)} ms vs ${f!.toFixed(2)} ms = ${x.toFixed(2)}×`,
      met: x === undefined ? null : x <= 1.2,
      gap: x === undefined || x <= 1.2 ? "" : `${((x / 1.2 - 1) * 100).toFixed(0)}% over`,
    });
  }
  const big = cell("chain-s50-r100");
  const conc = big?.runtime && big.workflows ? big.runtime.stepsPerSec / big.workflows.stepsPerSec : undefined;
  out.push({
    name: "steps/s, S=50, R=100",
    goal: "≥ 2× Workflows",
    measured: conc === undefined ? "–" : `${num(big!.runtime!.stepsPerSec)} vs ${num(big!.workflows!.stepsPerSec)} = ${conc.toFixed(2)}×`,
    met: conc === undefined ? null : conc >= 2,
    gap: conc === undefined || conc >= 2 ? "" : `${((1 - conc / 2) * 100).toFixed(0)}% short`,
  });
  const one = cell("chain-s1-r100");
  const create = one?.runtime && one.workflows ? one.runtime.runsPerSec / one.workflows.runsPerSec : undefined;
  out.push({
    name: "runs/s, S=1, R=100",
    goal: "≥ 2× Workflows",
    measured: create === undefined ? "–" : `${num(one!.runtime!.runsPerSec)} vs ${num(one!.workflows!.runsPerSec)} = ${create.toFixed(2)}×`,
    met: create === undefined ? null : create >= 2,
    gap: create === undefined || create >= 2 ? "" : `${((1 - create / 2) * 100).toFixed(0)}% short`,
  });
  const cpu = big?.runtime?.cpuMsPerStep;
  out.push({
    name: "server CPU per step, S=50, R=100",
    goal: "≤ 1.0 ms",
    measured: cpu === undefined ? "–" : `${cpu.toFixed(2)} ms`,
    met: cpu === undefined ? null : cpu <= 1,
    gap: cpu === undefined || cpu <= 1 ? "" : `${((cpu - 1) * 100).toFixed(0)}% over`,
  });
  const load = res.load.runtime;
  out.push({
    name: `POST /v1/runs p99 at ${load?.rate ?? "–"} req/s`,
    goal: "< 50 ms at 200 req/s",
    measured: load ? `${load.latencyMs.p99} ms at ${num(load.achievedRate)} req/s achieved (${load.non2xx + load.errors} errors of ${load.requests})` : "–",
    met: load ? load.rate >= 200 && load.achievedRate >= 0.95 * load.rate && load.latencyMs.p99 < 50 && load.non2xx + load.errors === 0 : null,
    gap: load && load.latencyMs.p99 >= 50 ? `${((load.latencyMs.p99 / 50 - 1) * 100).toFixed(0)}% over` : "",
  });
  return out;
}

function loadTable(res: Results): string {
  const head = `| system | requests | achieved req/s | non-2xx / errors | p50 | p90 | p97.5 | p99 | max | workerd CPU / request | peak RSS |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`;
  const rows = (["runtime", ...PEERS] as const).flatMap((n) => {
    const l = res.load[n];
    if (!l) return [];
    const x = l.latencyMs;
    return [`| ${NAMES[n]} | ${l.requests} | ${num(l.achievedRate)} | ${l.non2xx} / ${l.errors + l.timeouts} | ${x.p50} | ${x.p90} | ${x.p97_5} | ${x.p99} | ${x.max} | ${l.cpuMsPerRequest.toFixed(2)} ms | ${l.peakRssMB.toFixed(0)} MB |`];
  });
  const rate = res.load.runtime;
  return `**Create-run latency under a steady ${rate?.rate ?? "–"} requests/s for ${rate?.seconds ?? "–"} s (ms, client side, autocannon)**\n\nEach request creates a one-step run, which then executes while the load continues.\n\n${head}\n${rows.join("\n")}`;
}

/**
 * The runtime before and after the hot-path changes, cell by cell: \`before\` is a partial run
 * (BENCH_CELLS) of the code without them, on the same machine, minutes from the full run.
 */
function beforeAfter(before: Results, after: Results): string {
  const rows = before.cells.flatMap((b) => {
    const a = after.cells.find((c) => c.id === b.id)?.systems.runtime;
    const r = b.systems.runtime;
    if (!a || !r) return [];
    return [`| ${b.title} | ${num(r.stepsPerSec)} → ${num(a.stepsPerSec)} | ${r.cpuMsPerStep.toFixed(2)} → ${a.cpuMsPerStep.toFixed(2)} | ${num(r.latencyMs.p50)} → ${num(a.latencyMs.p50)} | ${num(b.systems.floor?.stepsPerSec)} → ${num(after.cells.find((c) => c.id === b.id)?.systems.floor?.stepsPerSec)} |`];
  });
  return `**The runtime before → after these changes** (before: ${before.date}, the same code with \`src/control/run/\` as it was before them; the floor's figure in both runs shows how much the machine itself moved)

| cell | runtime steps/s | runtime CPU ms/step | runtime p50 ms | floor steps/s |
|---|---:|---:|---:|---:|
${rows.join("\n")}
`;
}

export function renderReport(res: Results, before?: Results): string {
  const m = res.machine;
  const failed = res.cells.flatMap((c) => Object.entries(c.systems).filter(([, f]) => f.failedRuns > 0).map(([n, f]) => `${c.title}: ${n} ${f.failedRuns}`));
  const t = targets(res);
  return `# Benchmarks

<!-- Generated by \`npm run bench\` (bench/run.ts → bench/report.ts) from bench/results/latest.json. Do not edit by hand. -->

The runtime against two peers, measured in one invocation on one machine, cell by cell:

- **floor**: the least our design can do on this platform (\`bench/peers/floor\`): one Durable Object per run; each
  step is a queue message → consumer (does the work) → one RPC to the run's object, which records the result
  in SQLite and enqueues the next step. No leases, retries, events, validation or API.
- **Workflows**: Cloudflare Workflows (\`bench/peers/workflows\`): one instance per run, one \`step.do\` per step.
- **runtime**: Factory Runtime itself (\`npm start\`'s Worker), runs submitted through \`POST /v1/runs\` with
  \`system.hash\` steps, by a tenant whose rate limit, quota and concurrency limit are out of the way.

Every step of every system does the same work: SHA-256 of a 1 KiB string built from the previous step's output
(\`src/lib/work.ts\`). Ratios are runtime ÷ peer: above 1× is better for throughput, below 1× is better for
time, CPU and memory.

Last run: ${res.date}, ${res.mode} mode, ${res.repetitions} repetition(s) per cell (median reported), wall time of
\`npm run bench\` ${Math.floor(res.wallSeconds / 60)} min ${res.wallSeconds % 60} s, commit \`${m.commit}\`.

## Targets

| target | goal | measured | met |
|---|---|---|---|
${t.map((x) => `| ${x.name} | ${x.goal} | ${x.measured} | ${x.met === null ? "not measured" : x.met ? "yes" : `no (${x.gap})`} |`).join("\n")}

## Results

S = sequential steps per run, R = runs submitted at once.

${table(res.cells, "Throughput: steps/s", (f) => f.stepsPerSec, 0)}

${table(res.cells, "Throughput: runs/s", (f) => f.runsPerSec, 1)}

${table(res.cells, "Time per step (ms): the cell's window ÷ its steps", (f) => f.msPerStep, 2)}

${latencyTable(res.cells)}

${table(res.cells, "Server CPU per step (ms): user + system time of the workerd processes", (f) => f.cpuMsPerStep, 2)}

${table(res.cells, "Peak memory (MB): resident set of the workerd processes during the cell", (f) => f.peakRssMB, 0)}

${loadTable(res)}

${failed.length ? `Runs that did not succeed: ${failed.join("; ")}.` : "Every run of every cell succeeded."}

## What bounds the runtime here

Found by profiling the runtime's Worker through workerd's inspector (\`wrangler dev --inspector-port\`,
\`Profiler.start\`/\`stop\`, self and inclusive time per function) during an S=10, R=10 cell:

- **Durable commits and RPCs per step.** The floor commits once per step (record the result, enqueue the
  next) in one RPC. The runtime used to commit twice in two RPCs: \`begin\` (fence the attempt: mark it
  running, move its lease, log \`step.started\`) and \`report\`. Now a report can take back the next step in
  the same pool, begun in the same transaction (a *continuation*, bounded to 50 steps or 10 s per queue
  message), so a chain runs one RPC and one commit per step, like the floor, and skips the queue trip the
  floor still pays: at R=1 the runtime is now faster per step than the floor. Under concurrency what remains
  is the work the floor does not do per step: three events in the log, the attempt row, lease timers,
  metering, analytics, and the webhook outbox.
- **Run creation** (S=1) now costs about 39 ms of the workerd processes' CPU per run at R=100 (about 60 ms
  before this round) against the floor's 20 ms and Workflows' 40 ms; \`npm run bench:profile\` profiles exactly
  this cell. Creating a run is now two object calls (the tenant's \`openRun\`: key claim, quota, index entry and
  admission at once; then the run's \`create\`, which dispatches in its first transaction) where it was four
  calls and two transactions. What remains above the floor: the API's key check and token bucket (one more
  call to the tenant per request), the run's schema (a new SQLite database per run, about 15 statements), three
  events and their webhook fan-out through a queue to the tenant, the lease timers and the alarm, and the
  run's final status and usage sent to the tenant. In the profile SQLite statement execution is the largest
  single item (about a quarter of the isolate's busy time), then RPC plumbing.
- **The local queue broker runs one consumer invocation per queue at a time** (miniflare's
  \`broker.worker.js\` keeps one pending flush), so steps/s under concurrency is batch size ÷ the slowest
  message of the batch. It bounds the floor and the runtime alike; Workflows does not use queues.

Changes made from the profile, keeping every guarantee (fenced attempts, the outbox written in the
state change's transaction, leases; \`npm run chaos\` passes):

- A step's webhook events no longer cost one queue message, one consumer parse and one tenant RPC each: events
  wait up to 2 s to share one message (a run's final event flushes at once). Before, this fan-out was the
  largest single cost of a step (about 2 ms of the worker's time per step in the profile).
- Rows sent from the outbox are deleted in the next transaction the object makes anyway, instead of a
  transaction of their own after every send; the flush timer stays set until the outbox is empty, so a crash
  re-sends (fenced) and loses nothing.
- A settle that finds nothing to send writes nothing.
- Continuations (above): one RPC and one commit per step of a chain instead of two, and no queue trip.
- A new object's SQLite schema is created from the migrations squashed into one CREATE per table, instead of
  replaying every ALTER TABLE for each new run (a test checks both give the same schema).
- One tenant call opens a run (above), and the run starts in its first transaction: no admission round trip.
- Admission counts live runs through a partial index instead of reading every run the tenant ever had.
- Reads repeated on every decision stay in memory: the run's row (30 reads per one-step run before), its last
  event sequence and usage, the tenant's profile (7 reads), its alarm and whether it has any webhook endpoint;
  each timer is written once per transaction. A one-step run went from 177 SQL statements to 110
  (\`test/integration/hot-path.test.ts\` holds that budget).

${before ? beforeAfter(before, res) : ""}
## Method

- \`npm run bench\` starts three \`wrangler dev\` processes (the runtime with \`ENABLE_DIAGNOSTIC_JOBS=true\`, and the
  two peers), each on its own port with its own \`--persist-to\` directory, and warms each up with one run.
- Each cell runs ${res.repetitions} times per system, except cells of more than 2,000 steps (S=50, R=100), which run once:
  thousands of steps are a large sample on their own, and it keeps \`npm run bench\` under 15 minutes.
- Cells run in order; within a cell the three systems run back to back, the order rotating each repetition,
  and each waits until the previous system's workerd is idle. A repetition submits R runs at once (R concurrent
  \`POST\`s) and polls them one at a time (every ${100} ms) until terminal.
- Throughput uses the server's own timestamps: from the first run's creation to the last run's finish. Run
  latency is each run's creation-to-finish time on the server (Workflows: the instance's creation timestamp to
  the time its last step ran). Time per step is the window divided by the steps done; at R=1 it is the run's
  latency ÷ S.
- Server CPU is the change in utime + stime (\`/proc/<pid>/stat\`) of the \`workerd\` processes that descend from
  each \`wrangler dev\`, across the repetition, divided by the steps done. wrangler's own Node process only
  supervises and is not counted. The polling requests are counted (a few per second, the same for all).
- Peak memory samples the resident set of the same workerd processes every 100 ms.
- The load test runs autocannon in the benchmark's process (\`overallRate\`, 100 connections, no Idempotency-Key,
  so every request creates a run) against each system in turn, then waits for the created runs to drain.
  autocannon reports p97.5, not p95.
- The microservice blueprint exists only in the runtime; it has no peer figures.

## Machine

${m.nproc} × ${m.cpuModel}, ${m.memGiB} GiB RAM; Node ${m.node}, wrangler ${m.wrangler}, workerd ${m.workerd}.
Load average ${m.loadavgAtStart.join(" / ")} at the start, ${m.loadavgAtEnd.join(" / ")} at the end.
Other processes used about ${res.otherProcessesCores.toFixed(2)} cores on average during the run${res.otherProcessesCores > 0.1 ? ": **other processes were running on this machine during the measurement**" : ""}.

## Caveats

- Local emulation is not production. \`wrangler dev\` runs workerd with a local queue broker, SQLite on local disk
  and one process per Worker; production has network hops between Worker, queue and Durable Object, other
  batching, and no single-core bound. Absolute figures here say little about production; the ratios between
  systems measured side by side are the point.
- All three systems, the load generator and the poller share ${m.nproc} cores; each workerd runs its Worker on
  about one core.
- CPU per step in cells of few steps (R=1, S=1) is dominated by fixed costs (the \`POST\`, the polls, the
  10 ms resolution of \`/proc\` CPU times, workerd's idle work); read it from the large cells.
- Peak memory grows from cell to cell for every system: workerd keeps idle Durable Objects of earlier cells
  in memory for a while, so read it as the footprint after that many runs, not of the cell alone.
- Absolute figures depend heavily on what else the machine runs (see Machine); compare systems within a run.
- Local Workflows is the workers-sdk emulation (a Durable Object per instance), not the production engine.
- ${res.repetitions} repetition(s) per cell (1 for the largest): a median of ${res.repetitions} is a small sample; latency percentiles pool the
  runs of every repetition (${"`samples`"} in the JSON), so p99 of a cell with few runs is close to its maximum.
`;
}

/** The stored "before" partial run, if there is one (bench/results/before.json). */
export function readBefore(): Results | undefined {
  const file = join(import.meta.dirname, "results", "before.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Results) : undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ?? join(import.meta.dirname, "results", "latest.json");
  const res = JSON.parse(readFileSync(file, "utf8")) as Results;
  writeFileSync(join(import.meta.dirname, "..", "docs", "benchmarks.md"), renderReport(res, readBefore()));
}
