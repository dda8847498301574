/**
 * The job SDK: a job type declared in the catalog (schema/jobs/) gets its handler with one
 * `defineJob` call. The consumer validates the input with the declaration's schema, gives the
 * handler its context, and validates the output it returns.
 */
import type { ExternalCall } from "../lib/trace";
import type { JsonObject } from "../../schema/api";
import type { JobDeclaration } from "../../schema/jobs";
import type { ArtifactWriter, SpawnStep } from "../../schema/run";
import type { Completion, CompletionRequest } from "./agents/providers";

// Declared with the run's contract, so the artifact writer (src/artifacts/) implements it without importing the data plane.
export type { ArtifactWriter };

/**
 * What a handler is given for one attempt of one step. Everything on it is scoped to that attempt:
 * a later attempt of the same step gets a new context, and what this one writes or reports after
 * the run stopped wanting it is refused.
 */
export interface JobContext<I> {
  /** The step's input, already validated by the declaration's `input` schema. */
  input: I;
  /** Outputs of the steps this one depends on, by step id. */
  upstream: JsonObject;
  /** The run's id (`run_…`). */
  runId: string;
  /** The step's id, unique in its run. */
  stepId: string;
  /** This attempt's number (1 for the first): the fencing token the run checks on every report. */
  attempt: number;
  /** The tenant the run belongs to; artifacts and usage are charged to it. */
  tenantId: string;
  /** The run's W3C trace id, for the handler's own outbound calls and logs. */
  traceId: string;
  /** A W3C traceparent naming this attempt's span (`factory.job.execute`): send it on outgoing calls. */
  traceparent: string;
  /**
   * Makes an outgoing call a `factory.external.{service}` span under this attempt: `fn` gets the
   * traceparent to send (naming that span), and the call's timing goes out with the report.
   */
  external: ExternalCall;
  /** Writes the attempt's artifacts to R2 (see {@link ArtifactWriter}). */
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
  /**
   * An accepted artifact of this run by name, with its bytes and the step that produced it; null
   * when the run has none of that name.
   */
  readArtifact(name: string): Promise<{ stepId: string; createdAt: string; bytes: Uint8Array } | null>;
  /**
   * Checks an outbound URL with the SSRF guard (the webhooks' rules: public addresses only, plain
   * http to loopback outside production); its canonical form, or why it is refused.
   */
  checkOutbound(url: string): Promise<{ ok: true; url: URL } | { ok: false; reason: string }>;
  /** The configured model provider; every call is metered into the attempt's usage. */
  ai: { complete(request: Omit<CompletionRequest, "signal">): Promise<Completion> };
}

/** A job type: its declaration (schema/jobs/) and its handler. */
export interface JobDefinition<I = unknown, O = unknown> extends JobDeclaration<I, O> {
  /** The handler: one attempt of one step. Its output must fit the declaration's `output` schema. */
  run(ctx: JobContext<I>): Promise<O>;
}

/**
 * Gives a declared job type its handler, typed by the declaration's input and output. List the
 * result in `src/data/jobs/index.ts`; the typecheck fails while a declared type has no handler.
 *
 * The handler returns its output (JSON, at most 256 KiB: larger results are artifacts) or throws:
 * `NonRetryableError` fails the step at once, `RetryAfterError` names the wait before the next
 * attempt, anything else is retried with the step's backoff. It may run more than once for a step
 * (at-least-once attempts), so its side effects must tolerate a repeat.
 *
 * @example
 * // src/data/jobs/system.ts: the declaration is schema/jobs/system.ts's `echo`
 * export const echo = defineJob(SYSTEM.echo, async ({ input }) => input);
 */
export function defineJob<I, O, const T extends string>(
  declaration: JobDeclaration<I, O> & { type: T },
  run: (ctx: JobContext<I>) => Promise<O>,
): JobDefinition<I, O> & { type: T } {
  return { ...declaration, run };
}
