/**
 * SLA metrics from recorded runs (never estimated): success rate after automatic retries
 * (validation failures and cancels excluded), duration percentiles, the share of runs within
 * their blueprint's expected time, retry rate, admission wait. Pure.
 */
import type { RunStatus } from "../../schema/vocabulary";
import type { UsageTotals } from "../analytics/usage";
import type { RunOutcome } from "./run/types";

export interface FinishedRun {
  status: RunStatus;
  blueprint: string | null;
  usage: Pick<UsageTotals, "steps" | "attempts">;
  outcome: RunOutcome;
}

/** Nearest-rank percentile of sorted values; null for none. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const VALIDATION_FAILURES = new Set(["run.invalid_graph"]);

export function slaMetrics(runs: readonly FinishedRun[], expectedMs: (blueprint: string) => number | undefined) {
  const counted = runs.filter((r) => r.status === "succeeded" || (r.status === "failed" && !VALIDATION_FAILURES.has(r.outcome.errorCode ?? "")));
  const succeeded = counted.filter((r) => r.status === "succeeded").length;
  const durations = counted.map((r) => r.outcome.durationMs).sort((a, b) => a - b);
  const waits = counted.map((r) => r.outcome.queuedMs).sort((a, b) => a - b);
  const judged = counted.filter((r) => r.blueprint && expectedMs(r.blueprint) !== undefined);
  const onTime = judged.filter((r) => r.status === "succeeded" && r.outcome.durationMs <= expectedMs(r.blueprint!)!).length;
  const steps = counted.reduce((n, r) => n + r.usage.steps, 0);
  const attempts = counted.reduce((n, r) => n + r.usage.attempts, 0);
  return {
    runs: { finished: runs.length, counted: counted.length, succeeded, failed: counted.length - succeeded, cancelled: runs.filter((r) => r.status === "cancelled").length },
    successRate: counted.length ? succeeded / counted.length : null,
    durationMs: { p50: percentile(durations, 50), p95: percentile(durations, 95), p99: percentile(durations, 99) },
    queueWaitMs: { p50: percentile(waits, 50), p95: percentile(waits, 95) },
    withinExpectedTime: judged.length ? onTime / judged.length : null,
    retryRate: steps ? (attempts - steps) / steps : null,
  };
}

export type SlaMetrics = ReturnType<typeof slaMetrics>;
