/** Every job type the runtime knows. Adding a job type: write its defineJob file, list it here. */
import type { JobDefinition } from "../job";
import { generate, review } from "./agent";
import { externalTask } from "./external";
import { azure, githubActions, selfTest } from "./pipeline/jobs";
import { docs, library, module, pack, plan, scaffold } from "./repo/jobs";
import { billing, core } from "./saas/jobs";
import { crash, echo, fail, hash, sleep } from "./system";

const ALL = [
  echo,
  sleep,
  fail,
  crash,
  hash,
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
] as const;

export const JOBS: ReadonlyMap<string, JobDefinition> = new Map(
  ALL.map((job) => [job.type, job as unknown as JobDefinition]),
);

export function jobFor(type: string): JobDefinition | undefined {
  return JOBS.get(type);
}
