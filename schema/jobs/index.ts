/**
 * The job catalog: every job type the runtime knows, as a declaration without its handler —
 * its pool, the input it accepts, the output it returns, its timeout. The control plane
 * resolves steps against it and the data plane runs them with handlers keyed by the same types
 * (src/data/jobs/index.ts), so neither plane imports the other. Adding a job type: declare it in
 * the family file here, list it below, then give it a handler in src/data/jobs/.
 */
import type { JobDeclaration } from "./declare";
import { externalTask } from "./external";
import { generate, review } from "./agent";
import {
  azure,
  docs,
  githubActions,
  library,
  module,
  pack,
  plan,
  saasBilling,
  saasCore,
  scaffold,
  selfTest,
} from "./generators";
import { crash, echo, fail, hash, secrets, sleep, upstream } from "./system";
import { approval, signal, sleepFor, sleepUntil } from "./control";
import { deliverAzurePipeline, deliverGit } from "./delivery";

export type { JobDeclaration };

/** Job types that workers run: each has a handler in src/data/jobs/. */
const WORKER_JOBS = [
  echo,
  sleep,
  fail,
  crash,
  hash,
  secrets,
  upstream,
  plan,
  module,
  scaffold,
  docs,
  pack,
  githubActions,
  azure,
  generate,
  review,
  library,
  saasCore,
  saasBilling,
  selfTest,
  externalTask,
  deliverGit,
  deliverAzurePipeline,
] as const;

/** Step types the run's own object handles (pool `control`): no handler, no worker. */
const CONTROL_JOBS = [approval, signal, sleepFor, sleepUntil] as const;

const ALL = [...WORKER_JOBS, ...CONTROL_JOBS] as const;

/** The job types that workers run, as the literal union of their names. */
export type JobType = (typeof WORKER_JOBS)[number]["type"];
/** The declaration of each job type, by its name. */
export type JobDeclarations = { [D in (typeof ALL)[number] as D["type"]]: D };

export const JOB_DECLARATIONS: ReadonlyMap<string, JobDeclaration> = new Map(
  ALL.map((job) => [job.type, job as unknown as JobDeclaration]),
);

/** The declaration of a job type, or undefined for a type the runtime does not know. */
export function jobDeclaration(type: string): JobDeclaration | undefined {
  return JOB_DECLARATIONS.get(type);
}
