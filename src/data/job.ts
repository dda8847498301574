/**
 * The job SDK: a job type is one `defineJob` call. The consumer validates the input with the
 * job's schema, gives the handler its context, and validates the output it returns.
 */
import type { z } from "zod";
import type { JsonObject } from "../../schema/api";
import type { Completion, CompletionRequest } from "./agents/providers";
import type { JobDeclaration } from "../../schema/jobs";

export interface ArtifactRecord {
  name: string;
  key: string;
  size: number;
  contentType: string;
  sha256: string;
}

export interface ArtifactWriter {
  /** Stores bytes in R2 under this attempt's tenant-scoped prefix and records size and sha256. */
  put(name: string, body: string | Uint8Array, contentType: string): Promise<ArtifactRecord>;
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
  /** The configured model provider; every call is metered into the attempt's usage. */
  ai: { complete(request: Omit<CompletionRequest, "signal">): Promise<Completion> };
}

/** A step to add to the run: a run step's shape; `dependsOn` may name only other spawned steps. */
export type SpawnStep = {
  id: string;
  type: string;
  input?: JsonObject;
  dependsOn?: string[];
  timeoutMs?: number;
  retry?: { maxAttempts?: number };
};

/** A job type: its declaration (schema/jobs.ts), its output schema and its handler. */
export interface JobDefinition<I = unknown, O = unknown> extends JobDeclaration {
  input: z.ZodType<I>;
  output: z.ZodType<O>;
  run(ctx: JobContext<I>): Promise<O>;
}

/** Declares a job type. Typed so that `run` sees the parsed input and must return the output. */
export function defineJob<I, O>(def: JobDefinition<I, O>): JobDefinition<I, O> {
  return def;
}
