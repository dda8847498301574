/**
 * The job SDK: a job type declared in the catalog (schema/jobs/) gets its handler with one
 * `defineJob` call. The consumer validates the input with the declaration's schema, gives the
 * handler its context, and validates the output it returns.
 */
import type { JsonObject } from "../../schema/api";
import type { JobDeclaration } from "../../schema/jobs";
import type { ArtifactWriter, SpawnStep } from "../../schema/run";
import type { Completion, CompletionRequest } from "./agents/providers";

// Declared with the run's contract, so the artifact writer (src/artifacts/) implements it without importing the data plane.
export type { ArtifactWriter };

/**
 * What a job handler is given for one attempt of one step. Everything it does goes through here:
 * nothing else of the run is reachable from a handler.
 */
export interface JobContext<I> {
  /** The step's input, already validated by the declaration's `input` schema. */
  input: I;
  /** Outputs of the steps this one depends on, by step id. */
  upstream: JsonObject;
  /** The run, the step and the tenant this attempt belongs to. */
  runId: string;
  stepId: string;
  /**
   * This attempt's number, from 1: the fencing token. A result reported for an attempt the run
   * has moved past is refused, so a handler need not guard against running twice.
   */
  attempt: number;
  tenantId: string;
  /** The run's W3C trace id, for the handler's own outgoing calls and logs. */
  traceId: string;
  /** Writes artifacts under this attempt's prefix in R2, scanned for secrets first (see `ArtifactWriter`). */
  artifacts: ArtifactWriter;
  /** Aborted when the attempt's timeout passes or the run no longer wants it (cancelled, superseded). */
  signal: AbortSignal;
  /**
   * Tells the run this attempt is alive, extending its lease (steps with `heartbeatTimeoutMs`
   * must call it). If the attempt should stop, `signal` is aborted.
   */
  heartbeat(): Promise<void>;
  /** A structured log line; it lands in the run's event log as `step.log` (at most 50 per attempt). */
  log(message: string, fields?: JsonObject): void;
  /** Meters what the attempt consumed; summed into the run's usage. */
  meter(usage: { tokensIn?: number; tokensOut?: number; model?: string }): void;
  /**
   * Adds steps to the run (dynamic fan-out), started once this step succeeds; whatever waited
   * for this step then waits for all of them too (fan-in). Validated like a run's own steps.
   */
  spawn(steps: SpawnStep[]): void;
  /** The configured model provider; every call is metered into the attempt's usage. */
  ai: { complete(request: Omit<CompletionRequest, "signal">): Promise<Completion> };
}

/** A job type: its declaration (schema/jobs/) and its handler. */
export interface JobDefinition<I = unknown, O = unknown> extends JobDeclaration<I, O> {
  run(ctx: JobContext<I>): Promise<O>;
}

/**
 * Gives a declared job type (schema/jobs/) its handler, typed by the declaration's input and
 * output; list the result in src/data/jobs/index.ts. The consumer validates the input before
 * `run` and the returned output after it (an output that fails its schema fails the step for
 * good). Throw `NonRetryableError` to fail the step at once, `RetryAfterError` to retry no sooner
 * than it says, or `AppError` with a registry code (retried if the registry says it is retryable);
 * any other error is retried under the step's retry policy.
 *
 * @example
 * export const echo = defineJob(SYSTEM.echo, async ({ input }) => input);
 */
export function defineJob<I, O, const T extends string>(
  declaration: JobDeclaration<I, O> & { type: T },
  run: (ctx: JobContext<I>) => Promise<O>,
): JobDefinition<I, O> & { type: T } {
  return { ...declaration, run };
}
