/** How the run engine is tuned: set by the Run object from its environment. */
import type { HttpRequestRecord } from "../../../schema/run";
import type { ResolveOptions } from "../resolve";

/** Who asked for a control (`key:…`) and the API request that did: named in the run's event (an absent one is left out of its JSON). */
export type Asker = { by?: string | undefined; request?: HttpRequestRecord | undefined };

export interface EngineConfig {
  /** How long a dispatched attempt may wait to be picked up before it is presumed lost. */
  leaseQueuedMs: number;
  /** Slack past a step's timeout (or heartbeat timeout) before an attempt is presumed dead. */
  leaseGraceMs: number;
  /** When the alarm re-sends outbox rows that were not confirmed sent. */
  outboxRetryMs: number;
  /** Extra dispatches allowed beyond maxAttempts for attempts lost before they started. */
  lostBudget: number;
  /**
   * How long a webhook event may wait for others to share one message (a run's final event never
   * waits). Without it, a chain sends one message, and pays one fan-out, per step. Absent: 0.
   */
  webhookBatchMs?: number;
  /** An OTLP endpoint is configured: a finished run's spans are exported from its outbox (spans.ts). */
  telemetry?: boolean;
  /** Retry defaults and the diagnostics switch, for the steps a running step spawns. */
  resolve: ResolveOptions;
  /**
   * Signed single-use decision links for an approval gate that waits until `expiresAt`, or null
   * when the runtime has no link secret (then the gate is decided through the API only).
   */
  /** A waiting signal step's callback URL (null without the link secret). */
  callbackUrl?: (step: {
    tenantId: string;
    runId: string;
    stepId: string;
    name: string;
    expiresAt: number;
    verify?: { header: string; secret: string };
  }) => string;
  decisionLinks?: (gate: { tenantId: string; runId: string; stepId: string; expiresAt: number; issuedTo?: string }) => {
    approveUrl: string;
    rejectUrl: string;
  } | null;
}
