/**
 * The generator pools' jobs (repo, pipeline, saas): a plan, then steps that each write files
 * from it, then a package. Most are plan generators: no input, the plan from their `repo.plan`
 * dependency, files out.
 */
import { z } from "zod";
import { MicroserviceInput } from "../blueprints";
import type { PoolName } from "../vocabulary";
import { declareJob } from "./declare";

/** What a generated service is: the normalized plan every generator step works from. */
export const ServicePlan = z.object({
  name: z.string(),
  title: z.string(),
  description: z.string(),
  resources: z.array(z.object({ plural: z.string(), singular: z.string(), type: z.string() })),
  nodeVersion: z.number(),
  modules: z.number(),
});
export type ServicePlan = z.infer<typeof ServicePlan>;

export const FileMap = z.record(z.string(), z.string());
export type FileMap = z.infer<typeof FileMap>;
export const FilesOutput = z.object({ files: FileMap });

const planGenerator = <const T extends string>(type: T, pool: PoolName, description: string) =>
  declareJob({ type, pool, description, input: z.object({}).strict(), output: FilesOutput });

export const plan = declareJob({
  type: "repo.plan",
  pool: "repo",
  description:
    "Normalizes a microservice request into the plan the other generators follow; spawns one step per module.",
  input: MicroserviceInput,
  output: ServicePlan,
});

export const module = declareJob({
  type: "repo.module",
  pool: "repo",
  description: "Generates one feature module of the service (spawned by repo.plan).",
  input: z.object({ index: z.number().int().min(0).max(10_000) }).strict(),
  output: FilesOutput,
});

export const scaffold = planGenerator(
  "repo.scaffold",
  "repo",
  "Generates the service's TypeScript source and tests from the plan, with the modules its plan spawned.",
);

export const docs = planGenerator("repo.docs", "repo", "Writes the service's README from the plan.");

export const pack = declareJob({
  type: "repo.package",
  pool: "repo",
  description: "Zips every file its dependencies produced into `<name>.zip` and stores it as an artifact.",
  input: z.object({ name: z.string().regex(/^[a-z][a-z0-9-]{1,49}$/) }).strict(),
  output: z.object({ artifact: z.string(), files: z.array(z.string()), size: z.number(), sha256: z.string() }),
});

export const library = planGenerator(
  "repo.library",
  "repo",
  "Generates a TypeScript library (typed helpers, node:test tests) from the plan.",
);

export const githubActions = planGenerator(
  "pipeline.github-actions",
  "pipeline",
  "Writes a GitHub Actions workflow that installs and tests the service.",
);

export const azure = planGenerator(
  "pipeline.azure",
  "pipeline",
  "Writes an Azure Pipelines definition that installs and tests the service.",
);

export const selfTest = planGenerator(
  "pipeline.self-test",
  "pipeline",
  "Adds an npm test that checks the generated pipeline definitions (for the pipeline blueprint).",
);

export const saasCore = planGenerator(
  "saas.core",
  "saas",
  "Generates the multi-tenant core: tenants, hashed API keys, tenant-scoped data, tests.",
);

export const saasBilling = planGenerator(
  "saas.billing",
  "saas",
  "Generates the billing module: plans, metered usage, invoices, tests.",
);
