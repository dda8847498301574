/** Issue 13's targets, each a ratio of the runtime to a peer measured in the same `npm run bench`. */
import type { Results, SystemFigures } from "./results.ts";
import type { SystemName } from "./systems.ts";

export interface Target {
  name: string;
  goal: string;
  measured: string;
  met: boolean | null;
  /** How far off, when not met. */
  gap: string;
}

const LABEL: Record<SystemName, string> = { runtime: "runtime", floor: "floor", workflows: "Workflows" };

/**
 * runtime ÷ peer against a bound: `atLeast` for throughput (higher is better), `atMost` for
 * time, CPU and memory. `show` formats one system's figure for the measured column.
 */
function ratioTarget(
  name: string,
  peer: SystemName,
  bound: { atLeast: number } | { atMost: number },
  r: number | undefined,
  p: number | undefined,
  show: (x: number) => string,
): Target {
  const limit = "atLeast" in bound ? bound.atLeast : bound.atMost;
  const goal = `${"atLeast" in bound ? "≥" : "≤"} ${limit.toFixed(1)}× ${LABEL[peer]}`;
  if (r === undefined || p === undefined || !Number.isFinite(r) || !Number.isFinite(p) || p === 0) {
    return { name, goal, measured: "–", met: null, gap: "" };
  }
  const x = r / p;
  const met = "atLeast" in bound ? x >= limit : x <= limit;
  const gap = met
    ? ""
    : "atLeast" in bound
      ? `${((1 - x / limit) * 100).toFixed(0)}% short`
      : `${((x / limit - 1) * 100).toFixed(0)}% over`;
  return { name, goal, measured: `${show(r)} vs ${show(p)} = ${x.toFixed(2)}×`, met, gap };
}

export function targets(res: Results): Target[] {
  const cell = (id: string) => res.cells.find((c) => c.id === id);
  const fig = (id: string, system: SystemName, pick: (f: SystemFigures) => number) => {
    const f = cell(id)?.systems[system];
    return f ? pick(f) : undefined;
  };
  // A cell left out (BENCH_CELLS, BENCH_QUICK) is still named the way the full run names it.
  const title = (id: string) => cell(id)?.title ?? id.replace(/^chain-s(\d+)-r(\d+)$/, "S=$1, R=$2");
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const perSec = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: 0 });
  const out: Target[] = [];

  const cpu = (f: SystemFigures) => f.cpuMsPerStep;
  out.push(
    ratioTarget(
      `server CPU per step, ${title("chain-s50-r100")}`,
      "floor",
      { atMost: 1 },
      fig("chain-s50-r100", "runtime", cpu),
      fig("chain-s50-r100", "floor", cpu),
      ms,
    ),
  );
  for (const id of ["chain-s10-r20", "chain-s10-r100", "chain-s50-r20", "chain-s50-r100"]) {
    const steps = (f: SystemFigures) => f.stepsPerSec;
    out.push(
      ratioTarget(
        `steps/s, ${title(id)}`,
        "floor",
        { atLeast: 1 },
        fig(id, "runtime", steps),
        fig(id, "floor", steps),
        perSec,
      ),
    );
  }
  const runs = (f: SystemFigures) => f.runsPerSec;
  out.push(
    ratioTarget(
      `runs/s, ${title("chain-s1-r100")}`,
      "workflows",
      { atLeast: 1 },
      fig("chain-s1-r100", "runtime", runs),
      fig("chain-s1-r100", "workflows", runs),
      perSec,
    ),
  );
  out.push(
    ratioTarget(
      `server CPU per run, ${title("chain-s1-r100")}`,
      "workflows",
      { atMost: 1 },
      fig("chain-s1-r100", "runtime", cpu),
      fig("chain-s1-r100", "workflows", cpu),
      ms,
    ),
  );
  const rss = (f: SystemFigures) => f.peakRssMB;
  out.push(
    ratioTarget(
      `peak RSS of the workerd processes, ${title("chain-s50-r100")}`,
      "floor",
      { atMost: 1.1 },
      fig("chain-s50-r100", "runtime", rss),
      fig("chain-s50-r100", "floor", rss),
      (x) => `${x.toFixed(0)} MB`,
    ),
  );

  const load = res.load;
  const p99 = ratioTarget(
    `\`POST /v1/runs\` p99 at ${load ? `${load.rate}/s, the highest rate the floor sustained` : "the floor's highest sustained rate"}`,
    "floor",
    { atMost: 1.5 },
    load?.systems.runtime?.p99,
    load?.systems.floor?.p99,
    (x) => `${x.toFixed(0)} ms`,
  );
  // A low p99 over requests that failed would flatter: every runtime request must have succeeded.
  const failed = load?.systems.runtime?.reps.reduce((a, l) => a + l.non2xx + l.errors, 0) ?? 0;
  if (failed > 0)
    out.push({ ...p99, met: false, gap: `${failed} runtime request(s) failed${p99.gap ? `; ${p99.gap}` : ""}` });
  else
    out.push(
      load && !load.floorSustains
        ? { ...p99, measured: `${p99.measured} (the floor sustained none of the rates tried; this is the lowest)` }
        : p99,
    );
  return out;
}
