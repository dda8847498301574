/** The SDK's public shapes: options, handlers, the context a handler gets, the lease on the wire. */
import type { RetryPolicy } from "./http.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type LogLevel = "info" | "warn" | "error";

/** What the runtime hands a worker with a lease (POST /v1/pools/{pool}/leases). */
export interface Lease {
  id: string;
  runId: string;
  stepId: string;
  attempt: number;
  type: string;
  input: Record<string, unknown>;
  upstream: Record<string, unknown>;
  timeoutMs: number;
  heartbeatTimeoutMs?: number | null;
}

export interface StepContext {
  runId: string;
  stepId: string;
  attempt: number;
  /** The step's job type (`external.task` today, a tenant job type such as `acme.lint` later). */
  type: string;
  /** The handler's name: the task's `kind` for `external.task`, else the job type. */
  kind: string;
  /** Outputs of the steps this one depends on, by step id. */
  upstream: Record<string, unknown>;
  timeoutMs: number;
  /**
   * Aborted when the attempt is no longer this worker's: the run cancelled it or moved on (the
   * heartbeat was refused), or the worker is shutting down and gave the step back. A result
   * returned after that is dropped.
   */
  signal: AbortSignal;
  /** A line in the step's event log (sent with the result; the run keeps the first 50). */
  log(message: string, fields?: Record<string, unknown>, level?: LogLevel): void;
  /** Uploads an artifact of this attempt; it is named in the result automatically. */
  artifact(
    name: string,
    bytes: Uint8Array | string,
    contentType?: string,
  ): Promise<{ name: string; size: number; sha256: string }>;
  /** An extra heartbeat (they are sent on their own too); false when the lease is over. */
  heartbeat(): Promise<boolean>;
}

/** A handler's answer is the step's output (a JSON object); nothing means `{}`. */
export type Handler = (input: Record<string, unknown>, ctx: StepContext) => Promise<object | undefined>;

export interface WorkerOptions {
  /** The runtime's base URL, e.g. http://127.0.0.1:8787. */
  url: string;
  /** A worker token of the pool (a bearer secret). */
  token: string;
  pool: string;
  handlers: Record<string, Handler>;
  /** What this worker offers, for capability routing (e.g. `{ gpu: "a100" }`). */
  labels?: Record<string, string>;
  /** The job types it asks for; by default the handlers' names and `external.task`. */
  kinds?: string[];
  /** Steps in flight at once (default 1). */
  concurrency?: number;
  /** Names this worker in the runtime's view of the pool (default: host and pid). */
  workerId?: string;
  /** Long-poll wait per lease call, ms (default 3000: under the shutdown grace, so a poll never delays exit). */
  waitMs?: number;
  /** Heartbeat period, ms (default: a third of the step's heartbeat timeout or timeout, 100 ms to 10 s). */
  heartbeatMs?: number;
  /** At shutdown, how long in-flight steps may still finish before they are released (default 3500 ms). */
  shutdownGraceMs?: number;
  /** Stop gracefully on SIGTERM and SIGINT (default true). */
  handleSignals?: boolean;
  retry?: Partial<RetryPolicy>;
  /** Where the worker's own log lines go (default: JSON lines on stderr). */
  logger?: (line: Record<string, unknown>) => void;
  fetch?: typeof fetch;
}

export interface Worker {
  /** Leases and runs steps until stopped; resolves once every in-flight step finished or was released. */
  start(): Promise<void>;
  /** Stops leasing; in-flight steps finish within the grace or are given back. Resolves when drained. */
  stop(): Promise<void>;
  /** Steps running now. */
  readonly inFlight: number;
}

/** Throw it (or any error with `retryable: false`) for a failure no retry can fix. */
export class StepError extends Error {
  override readonly name = "StepError";
  readonly code: string;
  readonly retryable: boolean;
  constructor(message: string, code = "worker.error", retryable = true) {
    super(message);
    this.code = code;
    this.retryable = retryable;
  }
}

export const fatal = (message: string, code = "worker.fatal") => new StepError(message, code, false);
