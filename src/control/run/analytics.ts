/**
 * Analytics Engine points from a run's event log: one `step` point per ended attempt, and a
 * `run` point plus one `usage` point per pool when the run ends. Derived after commit from what
 * was recorded, so they never disagree with the API; written at most once (a crash between
 * commit and write loses points, never duplicates them — billing reads the recorded state).
 */
import { encodePoint } from "../../analytics/points";
import { cost, type PriceTable } from "../../analytics/prices";
import type { AttemptRecord } from "../../analytics/usage";
import { json } from "../sqlite";
import type { EndingRow, RunRow } from "./rows";
import type { RunStore } from "./store";

export interface PointContext {
  prices: PriceTable;
  expectedMs: (blueprint: string) => number | undefined;
}

/**
 * Analytics Engine accepts at most 250 points per invocation and drops the rest. A call writes at
 * most this many (an RPC may commit twice), so a mass ending — cancelling a run of 1,000 parallel
 * steps — writes its points over several invocations instead of losing most of them.
 */
export const MAX_POINTS_PER_CALL = 100;

/**
 * While a consumer runs a chain's continuations, the endings' points wait for this many (or the
 * chain's last report): one endings query per batch of steps instead of one per step. A
 * continuation's report follows within its step's run, so they wait milliseconds; if the consumer
 * dies meanwhile they are lost, as points of a crash between commit and write always were.
 */
export const CONTINUATION_POINTS_BATCH = 16;

/**
 * Points for the endings logged after event `after`, at most `max` of them, in log order; `more`
 * when endings remain for a later invocation (`backlog`: read them even if this transaction
 * logged no new ending).
 */
export function pointsSince(
  store: RunStore,
  after: number,
  ctx: PointContext,
  backlog = false,
  max = MAX_POINTS_PER_CALL,
  /** Another transaction follows at once (a continuation's report): fewer endings than this wait for it. */
  holdUnder = 0,
): { points: AnalyticsEngineDataPoint[]; last: number; more: boolean } {
  // One more than fits: whether any remain is known without a second query.
  const endings = store.endingsSince(after, max + 1, backlog, holdUnder);
  const run = endings.length > 0 ? store.run() : null;
  if (!run) return { points: [], last: after, more: false };
  const points: AnalyticsEngineDataPoint[] = [];
  let last = after;
  for (const e of endings) {
    const next = e.type.startsWith("step.") ? [stepPoint(run, e)] : runPoints(store, run, e, ctx);
    if (points.length + next.length > max) return { points, last, more: true };
    points.push(...next);
    last = e.seq;
  }
  return { points, last, more: false };
}

function stepPoint(run: RunRow, e: EndingRow): AnalyticsEngineDataPoint {
  const usage = json.read<Partial<AttemptRecord>>(e.usage) ?? {};
  const started = e.started_at;
  return encodePoint("step", run.tenant_id, {
    project: run.project,
    blueprint: run.blueprint ?? "",
    pool: e.pool ?? "",
    stepType: e.step_type ?? "",
    outcome: e.type.slice("step.".length),
    errorCode: e.error_code ?? "",
    runId: run.id,
    stepId: e.step_id ?? "",
    attempt: e.attempt ?? 0,
    queueWaitMs: started !== null && e.dispatched_at !== null ? started - e.dispatched_at : 0,
    execMs: started !== null ? (e.finished_at ?? e.occurred_at) - started : 0,
    cpuMs: usage.cpuMs ?? 0,
    tokensIn: usage.tokensIn ?? 0,
    tokensOut: usage.tokensOut ?? 0,
    artifactBytes: e.artifact_bytes,
    queueOps: usage.queueOps ?? 0,
    objectCalls: usage.objectCalls ?? 0,
    r2Writes: usage.r2Writes ?? 0,
  });
}

function runPoints(store: RunStore, run: RunRow, e: EndingRow, ctx: PointContext): AnalyticsEngineDataPoint[] {
  const usage = store.usage();
  const end = run.finished_at ?? e.occurred_at;
  const durationMs = end - run.created_at;
  const expected = run.blueprint ? ctx.expectedMs(run.blueprint) : undefined;
  const common = { project: run.project, blueprint: run.blueprint ?? "", runId: run.id };
  const points = [
    encodePoint("run", run.tenant_id, {
      ...common,
      status: e.type.slice("run.".length),
      errorCode: json.read<{ code?: string }>(run.error)?.code ?? "",
      priority: run.priority,
      durationMs,
      queuedMs: (run.started_at ?? end) - run.created_at,
      steps: usage.steps,
      attempts: usage.attempts,
      wallMs: usage.wallMs,
      cpuMs: usage.cpuMs,
      artifactBytes: usage.artifactBytes,
      tokensIn: usage.tokensIn,
      tokensOut: usage.tokensOut,
      costUsd: cost(usage, ctx.prices),
      withinExpected: expected === undefined ? -1 : e.type === "run.succeeded" && durationMs <= expected ? 1 : 0,
    }),
  ];
  for (const [pool, u] of Object.entries(usage.pools)) {
    points.push(encodePoint("usage", run.tenant_id, { ...common, pool, ...u, costUsd: cost(u, ctx.prices) }));
  }
  return points;
}
