/**
 * Renders docs/benchmarks.md from a results file. Run by `npm run bench`; on its own,
 * `npm run bench:report [-- file.json]` regenerates the page from stored results.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CellResult, LoadResult, LoadTest, Results, SystemFigures } from "./results.ts";
import type { SystemName } from "./systems.ts";
import { targets } from "./targets.ts";

const PEERS = ["floor", "workflows"] as const;
const NAMES: Record<SystemName, string> = { runtime: "runtime", floor: "floor", workflows: "Workflows" };

const num = (x: number | undefined, digits = 0) =>
  x === undefined || !Number.isFinite(x)
    ? "–"
    : x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !b ? "–" : `${(a / b).toFixed(2)}×`;

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
  return `**Run latency, creation to terminal state (ms, server timestamps)**\n\n${head}\n${rows.join("\n")}`;
}

/** The run's own storage: what a finished run's object holds until it is archived (bench/storage.ts). */
function storageLine(res: Results): string {
  if (!res.storage) return "The storage figure was not measured.";
  const kib = (res.storage.hotOneStepRunDbBytes / 1024).toFixed(0);
  return `### Storage

A finished one-step run's SQLite database, while hot (before its archival to R2 empties the object): **${res.storage.hotOneStepRunDbBytes.toLocaleString("en")} bytes** (${kib} KiB) on disk, pages × page size once the write-ahead log is folded in.`;
}

function loadTable(load: LoadTest): string {
  const search = load.search
    .map(
      (x) =>
        `${x.rate}/s ${x.sustained ? "sustained" : "not sustained"} (${x.answeredInTime} of ${x.sent} answered in time, ${x.failed} failed, p99 ${x.p99} ms)`,
    )
    .join("; ");
  const head = `| system | p99, median of repetitions | p50 / p90 / p95 / p99 / max, each repetition | answered in time | non-2xx / errors | workerd CPU / request | peak RSS |\n|---|---:|---:|---:|---:|---:|---:|`;
  const rows = (["runtime", ...PEERS] as const).flatMap((n) => {
    const s = load.systems[n];
    if (!s) return [];
    const each = (f: (l: LoadResult) => string) => s.reps.map(f).join(", ");
    return [
      `| ${NAMES[n]} | ${num(s.p99)} | ${each((l) => `${l.latencyMs.p50} / ${l.latencyMs.p90} / ${l.latencyMs.p95} / ${l.latencyMs.p99} / ${l.latencyMs.max}`)} | ${each((l) => `${l.answeredInTime} of ${l.sent}`)} | ${each((l) => `${l.non2xx} / ${l.errors}`)} | ${each((l) => `${l.cpuMsPerRequest.toFixed(2)} ms`)} | ${each((l) => `${l.peakRssMB.toFixed(0)} MB`)} |`,
    ];
  });
  return `**Create-run latency under a steady offered rate (ms, client side)**

The rate is the highest the floor sustained in a step search of ${load.searchSeconds} s per rate, a fresh floor for each
(${search})${load.search.at(-1)?.sustained ? "; it sustained the highest rate tried and may sustain more" : ""}. Then ${load.rate} requests/s for ${load.seconds} s were offered to each system alone. Each request creates
a one-step run, which executes while the load continues.

${head}
${rows.join("\n")}`;
}

/**
 * The same targets measured on the code before a change (`bench/results/before.json`, same method,
 * its own full run), beside this run's: each side's ratio is to its own peers of its own run.
 */
function beforeAfter(res: Results): string {
  const file = join(import.meta.dirname, "results", "before.json");
  const before = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Partial<Results>) : null;
  if (before?.method !== "isolated") return "";
  const then = targets(before as Results);
  const rows = targets(res).map(
    (now, i) => `| ${now.name} | ${now.goal} | ${then[i]?.measured ?? "–"} | ${now.measured} |`,
  );
  return `
### Before and after

The same \`npm run bench\`, run on the code before the change (commit \`${before.machine?.commit ?? "?"}\`, ${before.date ?? "?"}; results in
\`bench/results/before.json\`) and on this one. Each ratio is to the peers of its own run.

| target | goal | before | after |
|---|---|---|---|
${rows.join("\n")}
`;
}

/** The figures of a run, or null when none were taken under the current method yet. */
function figuresSection(res: Results): string {
  const m = res.machine;
  const failed = res.cells.flatMap((c) =>
    Object.entries(c.systems)
      .filter(([, f]) => f.failedRuns > 0)
      .map(([n, f]) => `${c.title}: ${n} ${f.failedRuns}`),
  );
  return `Last run: ${res.date}, ${res.mode} mode, ${res.repetitions} repetition(s) per cell (median reported), wall time of
\`npm run bench\` ${Math.floor(res.wallSeconds / 60)} min ${res.wallSeconds % 60} s, commit \`${m.commit}\`.

## Targets

Each is a ratio between systems measured in this same run; where one is not met, the last column says by how much,
and [performance.md](performance.md) says what bounds it, from CPU profiles.

| target | goal | measured | met |
|---|---|---|---|
${targets(res)
  .map(
    (x) =>
      `| ${x.name} | ${x.goal} | ${x.measured} | ${x.met === null ? "not measured" : x.met ? "yes" : `no (${x.gap})`} |`,
  )
  .join("\n")}
${beforeAfter(res)}
## Results

S = sequential steps per run, R = runs submitted at once.

${table(res.cells, "Throughput: steps/s (client clock: first POST sent to last run seen terminal)", (f) => f.stepsPerSec, 0)}

${table(res.cells, "Throughput: runs/s (client clock)", (f) => f.runsPerSec, 1)}

${table(res.cells, "Time per step (ms): the cell's client window ÷ its steps", (f) => f.msPerStep, 2)}

${table(res.cells, "For comparison only: steps/s over the server's own window (first creation to last finish)", (f) => f.serverStepsPerSec, 0)}

${latencyTable(res.cells)}

${table(res.cells, "Server CPU per step (ms): user + system time of the workerd processes, first POST until idle", (f) => f.cpuMsPerStep, 2)}

${table(res.cells, "Peak memory (MB): resident set of the workerd processes during the cell", (f) => f.peakRssMB, 0)}

${table(res.cells, "Peak memory (MB): the whole wrangler dev tree (wrangler's Node and esbuild too)", (f) => f.peakTreeRssMB, 0)}

${res.load ? loadTable(res.load) : "The load test was not run."}

${storageLine(res)}

${failed.length ? `Runs that did not succeed: ${failed.join("; ")}.` : "Every run of every cell succeeded."}

## Machine

${m.nproc} × ${m.cpuModel}, ${m.memGiB} GiB RAM; Node ${m.node}, wrangler ${m.wrangler}, workerd ${m.workerd}.
Load average ${m.loadavgAtStart.join(" / ")} at the start, ${m.loadavgAtEnd.join(" / ")} at the end.
Other processes used about ${res.otherProcessesCores.toFixed(2)} cores on average during the run${res.otherProcessesCores > 0.1 ? ": **other processes were running on this machine during the measurement**" : ""}.
`;
}

const PENDING = `## No figures yet under this method

The figures this page showed until now were taken with the old method (all three systems up at once for the
whole benchmark, throughput over the server's own timestamps), which flattered the runtime; they are withdrawn
(see *Why the method changed*). \`npm run bench\` on a quiet machine fills this page.
`;

/** docs/benchmarks.md for a full run's results, or without figures (null) until there is one. */
export function renderReport(res: Results | null): string {
  return `# Benchmarks

<!-- Generated by \`npm run bench\` (bench/run.ts → bench/report.ts) from bench/results/latest.json. Do not edit by hand. -->

The runtime against two peers, each measured alone on the same machine, cell by cell:

- **floor**: the least our design can do on this platform (\`bench/peers/floor\`): one Durable Object per run; each
  step is a queue message → consumer (does the work) → one RPC to the run's object, which records the result
  in SQLite and enqueues the next step. No leases, retries, events, validation or API.
- **Workflows**: Cloudflare Workflows (\`bench/peers/workflows\`): one instance per run, one \`step.do\` per step.
- **runtime**: Factory Runtime itself (\`npm start\`'s Worker), runs submitted through \`POST /v1/runs\` with
  \`system.hash\` steps, by a tenant whose concurrency limit, request rate and monthly quota are at the schema's
  maximum (10,000 concurrent runs, 1,000,000 requests a minute, 100,000,000 runs a month), so admission never
  holds a run back.

Every step of every system does the same work: SHA-256 of a 1 KiB string built from the previous step's output
(\`src/lib/work.ts\`). Ratios are runtime ÷ peer: above 1× is better for throughput, below 1× is better for
time, CPU and memory.

${res ? figuresSection(res) : PENDING}
${BOUNDS}
${method(res)}
${WHY}
${caveats(res)}`;
}

/** Profile findings; they name no figures, which would go stale, and point to the tables instead. */
const BOUNDS = `## What bounds the runtime here

Found by profiling the runtime's Worker through workerd's inspector (\`wrangler dev --inspector-port\`,
\`Profiler.start\`/\`stop\`, self and inclusive time per function; \`npm run bench:profile\`):

- **Durable commits and RPCs per step.** The floor commits once per step (record the result, enqueue the
  next) in one RPC. A runtime report can take back the next step in the same pool, begun in the same
  transaction (a *continuation*, bounded to 50 steps or 10 s per queue message), so a chain runs one RPC and
  one commit per step, like the floor, and skips the queue trip the floor pays. Under concurrency what
  remains is the work the floor does not do per step: three events in the log, the attempt row, lease
  timers, metering, analytics, and the webhook outbox.
- **Run creation** (S=1) is two object calls (the tenant's \`openRun\`: key claim, quota, index entry and
  admission at once; then the run's \`create\`, which dispatches in its first transaction). What it does beyond
  the floor: the API's key check and token bucket (one more call to the tenant per request, also on every
  \`GET\` the benchmark polls with), the run's schema (a new SQLite database per run, about 15 statements),
  three events and their webhook fan-out through a queue to the tenant, the lease timers and the alarm, and
  the run's final status and usage sent to the tenant. In the profile SQLite statement execution is the
  largest single item, then RPC plumbing.
- **The local queue broker runs one consumer invocation per queue at a time** (miniflare's
  \`broker.worker.js\` keeps one pending flush), so steps/s under concurrency is batch size ÷ the slowest
  message of the batch. It bounds the floor and the runtime alike; Workflows does not use queues.
`;

function method(res: Results | null): string {
  const reps = res?.repetitions ?? 3;
  return `## Method

- **Each system alone, fresh, per cell and repetition.** For every cell, every repetition and every system,
  \`npm run bench\` starts that one system's \`wrangler dev\` (the runtime with \`ENABLE_DIAGNOSTIC_JOBS=true\`)
  with a new, empty \`--persist-to\` directory, runs the cell, stops it (SIGKILL to its process group) and
  checks that every process of its tree is gone before the next one starts. No other \`wrangler dev\` of the
  benchmark runs meanwhile, and no state (SQLite, R2, queue backlog, idle objects in memory) carries over
  from one cell to the next.
- **Warm-up.** Before the cell, one two-step run: the first request compiles the Worker and starts its
  isolates, which no cell should time. Then the harness waits until the system's workerd is idle (under 5% of
  a core for a second), and measures.
- **Order.** Within a repetition the three systems run one after another; which one goes first rotates with
  the repetition and the cell, so no system is always first or always after the same one.
- Each cell runs ${reps} time(s) per system, except cells of more than 2,000 steps (S=50, R=100), which run once.
  A repetition sends R \`POST\`s at once and polls the runs (oldest unfinished first; one request every 50 ms
  while it runs, then the following ones at once, 1, 2, 4 … 16 at a time, as soon as polls find runs done),
  until all are terminal.
- **Throughput is timed on the client**: from the moment the first \`POST\` is sent to the moment the last run
  is seen terminal, on the benchmark's clock, as a user would time it. The server's own window (first
  creation to last finish) is reported beside it for comparison only: it leaves out the time to accept the
  \`POST\`s and to make a run's end visible, and each system stamps those moments differently (Workflows
  stamps "finished" inside its last step, before the instance is marked complete). Run latency percentiles
  use the server's timestamps, per run.
- **Server CPU** is the change in utime + stime (\`/proc/<pid>/stat\`) of the system's \`workerd\` processes from
  the first \`POST\` until the system is idle again after its runs ended (so batched events, final usage and
  other work that lands after a run's end count), divided by the steps done. wrangler's own Node process
  only supervises and is not counted. The polling requests are counted (the same scheme for all).
- **Peak memory** samples the resident set of the workerd processes every 100 ms during the cell, on a
  fresh start, median over repetitions; the whole tree (wrangler's Node and esbuild too) is reported beside it.
  The target uses workerd's: wrangler's Node is the same for every system and would pull every ratio toward 1.
- **Load test**: \`POST /v1/runs\` (peers: \`POST /runs\`) creating one-step runs, no Idempotency-Key, open loop
  at a constant rate (request i is due at i ÷ rate and sent then whatever earlier answers do; latency counts
  from the moment it was due; \`bench/load.ts\`). A step search on the floor (a fresh floor per rate, a few
  seconds each, lowest rate first) finds the highest rate it sustains: every answer 2xx, and at least 95% of
  them within one second after the last request was due (a system that falls behind builds a backlog
  instead). That same rate is then offered to each system alone on a fresh start, ${reps} time(s), order
  rotating, and the median of each system's p99 compared. The old load test used autocannon's
  \`overallRate\`, which sends each connection's share in a burst at the top of every second.
- The microservice blueprint exists only in the runtime; it has no peer figures.
- \`BENCH_QUICK=1\` runs a tiny version of every cell (results in \`bench/results/quick.json\`, never
  published); \`BENCH_CELLS=chain-s10-r100,load\` runs only the listed cells (and the load test only if
  \`load\` is listed; results in \`bench/results/partial.json\`); \`BENCH_REPS\` sets the repetitions.
`;
}

/**
 * Why the old method flattered the runtime, with the small experiments that showed it. Static: it
 * records what was measured on 2026-12-01 when the method changed, not this run.
 */
const WHY = `## Why the method changed

Until 2026-12-01 \`npm run bench\` started the three \`wrangler dev\` trees once, kept them up for every cell
and repetition (interleaved), waited only for the system under test to be idle, and computed throughput over
each server's own timestamps. An outside harness that ran each system alone on a fresh \`wrangler dev\` per
cell found the runtime at 0.84× Workflows at S=50, R=100 where this page said 1.19×, and both peers at about
twice the throughput shown here. Small experiments on this machine (2 cores shared with other engineers'
test suites at the time, so one figure moves ±30% from run to run; CPU per step is steadier) showed why:

- **State that grows across cells cost the peers CPU, not the runtime.** One long-lived \`wrangler dev\` per
  system, the same S=10, R=100 cell eight times in a row: the floor's CPU per step went from 1.81 ms (first
  time) to 1.96–2.37 ms (the later ones) and its workerd resident set from 390 to 763 MB; Workflows' from
  3.71 ms to 3.97–4.35 ms and 474 to 1,028 MB; the runtime's CPU stayed flat (5.47 ms, then 4.84–5.55 ms;
  568 → 870 MB; throughput fell for all three, by more than this machine's noise lets us attribute). The
  old S=50, R=100 cell came after about 800 runs and 7,000 steps on each tree, the same order as that
  experiment: the peers were measured loaded with the earlier cells' objects, which moved the CPU ratios our
  way. Its peak memory was the footprint of all the earlier cells (1,082 MB for Workflows), not of the cell.
- **The server's clock is not the user's.** First creation to last finish leaves out accepting the \`POST\`s
  and making the end visible, and each system stamps those moments differently. Measured alone and fresh in
  one run, server ÷ client steps/s was 1.23 for the runtime, 1.09 for the floor and 1.12 for Workflows at
  S=50, R=20 (the runtime flattered by about 10% against each peer), and 1.27, 1.48 and 2.5 at S=1, R=100
  (Workflows stamps both moments inside its instance: in an S=1, R=100 cell its last run stamped its end
  0.8 s after the first \`POST\` was sent, the \`POST\`s returned at 1.2 s, and the last run read as complete
  at 1.9–2.0 s). Throughput is now timed on the client.
- **Several trees up at once** mattered least here: an idle tree used about 20 ms of CPU while another was
  measured beside it; the floor's S=10, R=100 with the two other trees up and warm gave 199–275 steps/s
  against 296–302 alone, back to back, a drop this machine's noise cannot separate from the trees' presence;
  the previous system's trailing work leaked at most 110 ms of CPU into the next one's window. Measuring each
  alone removes the question.
- **The old load test offered bursts, not a rate**: autocannon's \`overallRate\` sends each connection's share at
  the top of every second. The floor at 40 requests/s had a p99 of 270 ms that way and 46 ms at a constant
  rate (\`bench/load.ts\`); its p50 of 424 ms at "200/s" on the old page was queueing behind bursts.
- The old harness polled the R runs one request at a time, which adds about R requests to the end of a
  client-side window (about 0.6 s at S=1, R=100 for the floor); the poll now fans out once runs finish.

These account for part of the gap to the outside harness, not all of it: that harness ran on a quiet machine,
and every system's absolute figures here, with other suites running (about 0.6 cores of other processes), are
lower. The final figures belong to a quiet machine; the page says how much else ran.

The same three cells under both methods, back to back on the shared machine (2 repetitions, medians;
the old row is short, so it carries little accumulated state, and mostly shows the clock):

| cell | old: runtime / floor / Workflows | new: runtime / floor / Workflows |
|---|---:|---:|
| S=1, R=100, runs/s | 36 / 131 / 111 | 37 / 109 / 51 |
| S=10, R=100, steps/s | 217 / 587 / 246 | 183 / 378 / 228 |
| S=50, R=20, steps/s | 333 / 515 / 332 | 309 / 628 / 263 |

The old mode is gone rather than kept beside the new one: how a system behaves after hours of service is a
question for a soak test, not for a comparison between systems, and a long-lived tree answers neither well.
`;

function caveats(res: Results | null): string {
  return `## Caveats

- Local emulation is not production. \`wrangler dev\` runs workerd with a local queue broker, SQLite on local disk
  and one process per Worker; production has network hops between Worker, queue and Durable Object, other
  batching, and no single-core bound. Absolute figures here say little about production; the ratios between
  systems measured the same way on the same machine are the point.
- The system under test, the load generator and the poller share ${res?.machine.nproc ?? 2} cores; each workerd runs its
  Worker on about one core.
- CPU per step in cells of few steps (R=1, S=1) is dominated by fixed costs (the \`POST\`, the polls, the
  10 ms resolution of \`/proc\` CPU times, workerd's idle work); read it from the large cells.
- A fresh start per cell measures a system without the memory and state a long-lived one accumulates; that
  is the figure a comparison needs, not the footprint of a process that has served for hours.
- Absolute figures depend heavily on what else the machine runs (see Machine); compare systems within a run.
- Local Workflows is the workers-sdk emulation (a Durable Object per instance), not the production engine.
- ${res?.repetitions ?? 3} repetition(s) per cell (1 for the largest): a median of a few is a small sample; latency
  percentiles pool the runs of every repetition (\`samples\` in the JSON), so p99 of a cell with few runs is
  close to its maximum.
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ?? join(import.meta.dirname, "results", "latest.json");
  const res = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Partial<Results>) : null;
  // Results of the old method (no \`method\` field) are not rendered as if they were comparable.
  writeFileSync(
    join(import.meta.dirname, "..", "docs", "benchmarks.md"),
    renderReport(res?.method === "isolated" ? (res as Results) : null),
  );
}
