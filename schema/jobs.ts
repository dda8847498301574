/**
 * What the control plane needs of a job type, without its handler: the pool it runs in, the
 * input it accepts and its timeout. The data plane's job definitions (src/data/job.ts) are such
 * declarations with a handler; whoever composes the two (the API, the data plane) passes a lookup
 * of them to the control plane, which never imports the handlers.
 */
import type { z } from "zod";
import type { PoolName } from "./vocabulary";

export interface JobDeclaration {
  type: string;
  pool: PoolName;
  description: string;
  input: z.ZodType;
  /** Per-attempt timeout; the pool's default when absent. */
  timeoutMs?: number;
}

/** The declaration of a job type, or undefined for a type the runtime does not know. */
export type JobLookup = (type: string) => JobDeclaration | undefined;
