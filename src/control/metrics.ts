/**
 * SLA metrics from recorded runs (never estimated): success rate after automatic retries
 * (validation failures and cancels excluded), duration percentiles, the share of runs within
 * their blueprint's expected time, retry rate, admission wait. Pure.
 */
import type { RunStatus } from "../../schema/vocabulary";
import { BLUEPRINTS } from "../blueprints";
import type { UsageTotals } from "../../schema/usage";
import type { RunOutcome } from "../../schema/run";

export interface FinishedRun {
  status: RunStatus;
  blueprint: string | null;
  usage: Pick<UsageTotals, "steps" | "attempts">;
  outcome: RunOutcome;
}

/** The time a blueprint's runs are expected to finish in (its SLA), if it is a blueprint. */
export const blueprintExpectedMs = (blueprint: string): number | undefined => BLUEPRINTS.get(blueprint)?.expectedMs;

/** Nearest-rank percentile of sorted values; null for none. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? null;
}

const VALIDATION_FAILURES = new Set(["run.invalid_graph"]);

export function slaMetrics(runs: readonly FinishedRun[], expectedMs: (blueprint: string) => number | undefined) {
  const counted = runs.filter(
    (r) => r.status === "succeeded" || (r.status === "failed" && !VALIDATION_FAILURES.has(r.outcome.errorCode ?? "")),
  );
  const succeeded = counted.filter((r) => r.status === "succeeded").length;
  const durations = counted.map((r) => r.outcome.durationMs).sort((a, b) => a - b);
  const waits = counted.map((r) => r.outcome.queuedMs).sort((a, b) => a - b);
  const judged = counted.flatMap((r) => {
    const expected = r.blueprint ? expectedMs(r.blueprint) : undefined;
    return expected === undefined ? [] : [{ run: r, expected }];
  });
  const onTime = judged.filter(
    ({ run, expected }) => run.status === "succeeded" && run.outcome.durationMs <= expected,
  ).length;
  const steps = counted.reduce((n, r) => n + r.usage.steps, 0);
  const attempts = counted.reduce((n, r) => n + r.usage.attempts, 0);
  return {
    runs: {
      finished: runs.length,
      counted: counted.length,
      succeeded,
      failed: counted.length - succeeded,
      cancelled: runs.filter((r) => r.status === "cancelled").length,
    },
    successRate: counted.length ? succeeded / counted.length : null,
    durationMs: { p50: percentile(durations, 50), p95: percentile(durations, 95), p99: percentile(durations, 99) },
    queueWaitMs: { p50: percentile(waits, 50), p95: percentile(waits, 95) },
    withinExpectedTime: judged.length ? onTime / judged.length : null,
    retryRate: steps ? (attempts - steps) / steps : null,
  };
}

export type SlaMetrics = ReturnType<typeof slaMetrics>;

export interface PoolBacklog {
  pool: string;
  queued: number;
  running: number;
  retrying: number;
}

export interface WebhookStats {
  succeeded: number;
  failed: number;
  pending: number;
  attempts: number;
  attemptsOk: number;
}

/** Approval gates: how many wait now, and how long the ones decided in the window waited. */
export interface ApprovalStats {
  pending: number;
  /** Request to decision (or expiry) of each gate decided in the window, in ms. */
  waits: number[];
}

/** What one tenant contributes to metrics; a tenant's own metrics and the platform's combine these. */
export interface MetricParts {
  finished: FinishedRun[];
  now: { running: number; waiting: number };
  backlog: PoolBacklog[];
  webhooks: WebhookStats;
  approvals: ApprovalStats;
}

/** SLA, backlog and webhook metrics over one or many tenants' parts. Pure. */
export function composeMetrics(parts: readonly MetricParts[], expectedMs = blueprintExpectedMs) {
  const pools = new Map<string, PoolBacklog>();
  for (const b of parts.flatMap((p) => p.backlog)) {
    const into = pools.get(b.pool) ?? { pool: b.pool, queued: 0, running: 0, retrying: 0 };
    into.queued += b.queued;
    into.running += b.running;
    into.retrying += b.retrying;
    pools.set(b.pool, into);
  }
  const w = parts.reduce(
    (n, p) => ({
      succeeded: n.succeeded + p.webhooks.succeeded,
      failed: n.failed + p.webhooks.failed,
      pending: n.pending + p.webhooks.pending,
      attempts: n.attempts + p.webhooks.attempts,
      attemptsOk: n.attemptsOk + p.webhooks.attemptsOk,
    }),
    { succeeded: 0, failed: 0, pending: 0, attempts: 0, attemptsOk: 0 },
  );
  const approvalWaits = parts.flatMap((p) => p.approvals.waits).sort((a, b) => a - b);
  return {
    ...slaMetrics(
      parts.flatMap((p) => p.finished),
      expectedMs,
    ),
    now: {
      running: parts.reduce((n, p) => n + p.now.running, 0),
      waiting: parts.reduce((n, p) => n + p.now.waiting, 0),
    },
    pools: [...pools.values()].sort((a, b) => (a.pool < b.pool ? -1 : 1)),
    webhooks: {
      deliveries: { succeeded: w.succeeded, failed: w.failed, pending: w.pending },
      successRate: w.succeeded + w.failed ? w.succeeded / (w.succeeded + w.failed) : null,
      attempts: w.attempts,
      attemptSuccessRate: w.attempts ? w.attemptsOk / w.attempts : null,
    },
    approvals: {
      pending: parts.reduce((n, p) => n + p.approvals.pending, 0),
      decided: approvalWaits.length,
      waitMs: { p50: percentile(approvalWaits, 50), p95: percentile(approvalWaits, 95) },
    },
  };
}
