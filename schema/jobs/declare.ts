/** What a job type declares (see ./index.ts): everything about it but its handler. */
import type { z } from "zod";
import type { PoolName } from "../vocabulary";

export interface JobDeclaration<I = unknown, O = unknown> {
  type: string;
  pool: PoolName;
  description: string;
  input: z.ZodType<I>;
  output: z.ZodType<O>;
  /** Per-attempt timeout; the pool's default when absent. */
  timeoutMs?: number;
  /**
   * The external system the job calls (a repository host, a SaaS API): its failures count
   * against that dependency's circuit breaker, and while it is open the job's steps are held.
   */
  dependency?: string;
}

/** Declares a job type; typed so that its handler sees the parsed input and must return the output. */
export function declareJob<const T extends string, I, O>(
  declaration: JobDeclaration<I, O> & { type: T },
): JobDeclaration<I, O> & { type: T } {
  return declaration;
}
