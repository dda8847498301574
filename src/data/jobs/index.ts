/**
 * The handler of every job type the catalog declares (schema/jobs/). Adding a job type: declare
 * it there, write its defineJob handler, list it here; the type below fails to compile while a
 * declared type has no handler.
 */
import type { JobType } from "../../../schema/jobs";
import type { JobDefinition } from "../job";
import { generate, review } from "./agent";
import { externalTask } from "./external";
import { deliverAzurePipeline, deliverGit } from "./delivery/jobs";
import { azure, githubActions, selfTest } from "./pipeline/jobs";
import { docs, library, module, pack, plan, scaffold } from "./repo/jobs";
import { billing, core } from "./saas/jobs";
import { crash, echo, fail, hash, secrets, sleep, upstream } from "./system";

const ALL = [
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
  core,
  billing,
  selfTest,
  externalTask,
  deliverGit,
  deliverAzurePipeline,
] as const;

/** Compiles only while every declared job type has a handler here. */
const complete: Exclude<JobType, (typeof ALL)[number]["type"]> extends never ? true : never = true;
void complete;

const HANDLERS: ReadonlyMap<string, JobDefinition> = new Map(
  ALL.map((job) => [job.type, job as unknown as JobDefinition]),
);

/** The handler (with its declaration) of a job type, or undefined for a type the runtime does not know. */
export function jobFor(type: string): JobDefinition | undefined {
  return HANDLERS.get(type);
}
