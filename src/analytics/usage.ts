/**
 * Usage: what attempts recorded, summed per run (with a per-pool and per-model breakdown) and
 * rolled up per project, blueprint, pool or day. Everything here adds up recorded numbers;
 * nothing is estimated a second time. Pure.
 */
import type { MeteredUsage, ModelTokens, ReportedUsage, RunUsage, UsageTotals } from "../../schema/usage";

export const TOTAL_FIELDS = [
  "steps",
  "attempts",
  "wallMs",
  "cpuMs",
  "artifactBytes",
  "tokensIn",
  "tokensOut",
  "queueOps",
  "objectCalls",
  "r2Writes",
] as const satisfies readonly (keyof UsageTotals)[];

export function emptyTotals(): UsageTotals {
  return {
    steps: 0,
    attempts: 0,
    wallMs: 0,
    cpuMs: 0,
    artifactBytes: 0,
    tokensIn: 0,
    tokensOut: 0,
    queueOps: 0,
    objectCalls: 0,
    r2Writes: 0,
  };
}

/** Adds `b` into `a` (fields `b` lacks, from usage recorded before they existed, count as 0). */
export function addTotals(a: UsageTotals, b: Partial<UsageTotals>): UsageTotals {
  for (const f of TOTAL_FIELDS) a[f] += b[f] ?? 0;
  return a;
}

export function addModels(a: ModelTokens, b: ModelTokens | undefined): ModelTokens {
  for (const [model, t] of Object.entries(b ?? {})) {
    const into = a[model] ?? { tokensIn: 0, tokensOut: 0 };
    a[model] = into;
    into.tokensIn += t.tokensIn;
    into.tokensOut += t.tokensOut;
  }
  return a;
}

export type UsageGroup = "project" | "blueprint" | "day" | "pool";

/** A finished run as the tenant's index keeps it. */
export interface RecordedRun {
  project: string;
  blueprint: string | null;
  status: string;
  createdAt: number;
  usage: Partial<RunUsage>;
}

export interface UsageGroupRow extends MeteredUsage {
  key: string;
  runs: number;
  succeeded: number;
  failed: number;
}

/**
 * Rolls finished runs up by a dimension. By pool, a run counts once in each pool it used, and
 * only that pool's share of its usage goes there; runs recorded before pools were metered
 * count under "(unmetered)" so that totals still add up.
 */
export function rollUp(runs: readonly RecordedRun[], groupBy: UsageGroup): UsageGroupRow[] {
  const groups = new Map<string, UsageGroupRow>();
  const row = (key: string) => {
    let g = groups.get(key);
    if (!g) {
      g = { key, runs: 0, succeeded: 0, failed: 0, ...emptyTotals(), models: {} };
      groups.set(key, g);
    }
    return g;
  };
  const count = (g: UsageGroupRow, run: RecordedRun) => {
    g.runs += 1;
    if (run.status === "succeeded") g.succeeded += 1;
    if (run.status === "failed") g.failed += 1;
  };
  for (const run of runs) {
    if (groupBy === "pool") {
      const pools = Object.entries(run.usage.pools ?? {});
      if (pools.length === 0) {
        const g = row("(unmetered)");
        count(g, run);
        addTotals(g, run.usage);
        addModels(g.models, run.usage.models);
      }
      for (const [pool, usage] of pools) {
        const g = row(pool);
        count(g, run);
        addTotals(g, usage);
        addModels(g.models, usage.models);
      }
      continue;
    }
    const key =
      groupBy === "project"
        ? run.project
        : groupBy === "blueprint"
          ? (run.blueprint ?? "(steps)")
          : new Date(run.createdAt).toISOString().slice(0, 10);
    const g = row(key);
    count(g, run);
    addTotals(g, run.usage);
    addModels(g.models, run.usage.models);
  }
  return [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** What a worker reports about an attempt it ran (it cannot see queue or object operations). */
/** What the run records for one attempt: the worker's report plus the platform operations. */
export interface AttemptRecord extends Omit<UsageTotals, "steps" | "attempts" | "wallMs" | "artifactBytes"> {
  models: ModelTokens;
}

/**
 * Completes a worker's report with what the platform did for the attempt: a queued attempt
 * is one message written, read and deleted (none when the run handed it straight back); every attempt calls its run to begin and to report
 * (an external worker's lease is its begin), plus its heartbeats; each artifact is one R2 write.
 */
export function recordAttempt(
  reported: ReportedUsage | undefined,
  o: { viaQueue: boolean; artifacts: number },
): AttemptRecord {
  const heartbeats = Math.max(0, Math.round(reported?.heartbeats ?? 0));
  return {
    cpuMs: Math.max(0, reported?.cpuMs ?? 0),
    tokensIn: reported?.tokensIn ?? 0,
    tokensOut: reported?.tokensOut ?? 0,
    models: reported?.models ?? {},
    queueOps: o.viaQueue && reported?.queued !== false ? 3 : 0,
    objectCalls: 2 + heartbeats,
    r2Writes: o.artifacts,
  };
}
