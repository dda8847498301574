/**
 * What runs consume, as it crosses boundaries: an attempt's report (ReportedUsage), a run's
 * totals with their per-pool and per-model breakdowns. The sums live in src/analytics/usage.ts.
 */

/** Counters that add up across attempts, runs and groups. */
export interface UsageTotals {
  /** Steps that ran (had at least one attempt) in this run. */
  steps: number;
  /** Attempts dispatched, including ones lost before they started. */
  attempts: number;
  /** Sum of the attempts' execution times (started → finished), as recorded by the run. */
  wallMs: number;
  /** Estimated CPU time of the attempts' handlers (see src/data/meter.ts for the estimate). */
  cpuMs: number;
  /** Bytes of artifacts written to R2 by this run's attempts (carried-over artifacts excluded). */
  artifactBytes: number;
  tokensIn: number;
  tokensOut: number;
  /** Queue operations: a message's write, read and delete. */
  queueOps: number;
  /** Calls into Durable Objects on the attempts' behalf (begin, report, heartbeats, leases). */
  objectCalls: number;
  /** R2 writes (class A operations). */
  r2Writes: number;
}

export type ModelTokens = Record<string, { tokensIn: number; tokensOut: number }>;

/** Totals with AI tokens per model (models are priced separately). */
export interface MeteredUsage extends UsageTotals {
  models: ModelTokens;
}

export interface RunUsage extends MeteredUsage {
  pools: Record<string, MeteredUsage>;
}

export interface ReportedUsage {
  tokensIn: number;
  tokensOut: number;
  models?: ModelTokens;
  /** The handler's estimated CPU time. */
  cpuMs?: number;
  heartbeats?: number;
  /** False when the run handed the attempt straight back to its worker: no queue message. */
  queued?: boolean;
}
