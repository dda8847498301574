/**
 * The job SDK: a job type declared in the catalog (schema/jobs/) gets its handler with one
 * `defineJob` call. The consumer validates the input with the declaration's schema, gives the
 * handler its context, and validates the output it returns.
 */
import type { JsonObject } from "../../schema/api";
import type { JobDeclaration } from "../../schema/jobs";
import type { Artifact, SpawnStep } from "../../schema/run";
import type { Completion, CompletionRequest } from "./agents/providers";

export interface ArtifactWriter {
  /** Stores bytes in R2 under this attempt's tenant-scoped prefix and records size and sha256. */
  put(name: string, body: string | Uint8Array, contentType: string): Promise<Artifact>;
}

export interface JobContext<I> {
  input: I;
  /** Outputs of the steps this one depends on, by step id. */
  upstream: JsonObject;
  runId: string;
  stepId: string;
  attempt: number;
  tenantId: string;
  traceId: string;
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
  run(ctx: JobContext<I>): Promise<O>;
}

/** Gives a declared job type its handler, typed by the declaration's input and output. */
export function defineJob<I, O, const T extends string>(
  declaration: JobDeclaration<I, O> & { type: T },
  run: (ctx: JobContext<I>) => Promise<O>,
): JobDefinition<I, O> & { type: T } {
  return { ...declaration, run };
}
