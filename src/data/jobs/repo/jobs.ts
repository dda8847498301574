/** The Repo Generator pool's jobs: plan a service, scaffold its source, write its docs, package it. */
import { strToU8, zipSync, type Zippable } from "fflate";
import { z } from "zod";
import { NonRetryableError } from "../../../errors";
import { defineJob } from "../../job";
import { MicroserviceInput } from "../../../../schema/blueprints";
import { type FileMap, FilesOutput, ServicePlan, planGenerator, planService, upstreamPlan } from "./plan";
import { serviceReadme } from "./docs";
import { librarySource } from "./library";
import { moduleSource, serviceSource } from "./source";

export const plan = defineJob({
  type: "repo.plan",
  pool: "repo",
  description:
    "Normalizes a microservice request into the plan the other generators follow; spawns one step per module.",
  input: MicroserviceInput,
  output: ServicePlan,
  run: async ({ input, spawn, log }) => {
    const plan = planService(input);
    // Dynamic fan-out: the plan decides how many module steps exist; scaffold then waits for all.
    spawn(
      Array.from({ length: plan.modules }, (_, index) => ({
        id: `module-${index}`,
        type: "repo.module",
        input: { index },
      })),
    );
    log("planned", { resources: plan.resources.length, modules: plan.modules });
    return plan;
  },
});

export const module = defineJob({
  type: "repo.module",
  pool: "repo",
  description: "Generates one feature module of the service (spawned by repo.plan).",
  input: z.object({ index: z.number().int().min(0).max(10_000) }).strict(),
  output: FilesOutput,
  run: async ({ input }) => ({ files: { [`src/modules/module-${input.index}.ts`]: moduleSource(input.index) } }),
});

export const scaffold = defineJob({
  type: "repo.scaffold",
  pool: "repo",
  description: "Generates the service's TypeScript source and tests from the plan, with the modules its plan spawned.",
  input: z.object({}).strict(),
  output: FilesOutput,
  run: async ({ upstream }) => {
    const modules = Object.values(upstream).flatMap((v) => {
      const parsed = FilesOutput.safeParse(v);
      return parsed.success ? Object.entries(parsed.data.files) : [];
    });
    return { files: { ...serviceSource(upstreamPlan(upstream)), ...Object.fromEntries(modules) } };
  },
});

export const docs = planGenerator("repo.docs", "repo", "Writes the service's README from the plan.", (plan) => ({
  "README.md": serviceReadme(plan),
}));

export const pack = defineJob({
  type: "repo.package",
  pool: "repo",
  description: "Zips every file its dependencies produced into `<name>.zip` and stores it as an artifact.",
  input: z.object({ name: z.string().regex(/^[a-z][a-z0-9-]{1,49}$/) }).strict(),
  output: z.object({ artifact: z.string(), files: z.array(z.string()), size: z.number(), sha256: z.string() }),
  run: async ({ input, upstream, artifacts }) => {
    const files: FileMap = {};
    for (const [stepId, value] of Object.entries(upstream)) {
      const parsed = FilesOutput.safeParse(value);
      if (!parsed.success) continue;
      for (const [path, content] of Object.entries(parsed.data.files)) {
        if (path in files)
          throw new NonRetryableError("repo.file_conflict", `'${path}' came from two steps (one is ${stepId})`);
        files[path] = content;
      }
    }
    const sorted = Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1)); // paths are unique
    const paths = sorted.map(([path]) => path);
    if (paths.length === 0) throw new NonRetryableError("repo.nothing_to_package", "no upstream step produced files");
    // A fixed mtime keeps the zip byte-for-byte reproducible, so its sha256 is too.
    const mtime = new Date("2026-01-01T00:00:00Z");
    const tree: Zippable = Object.fromEntries(
      sorted.map(([path, content]) => [`${input.name}/${path}`, [strToU8(content), { mtime }]]),
    );
    const zip = zipSync(tree, { level: 6 });
    const record = await artifacts.put(`${input.name}.zip`, zip, "application/zip");
    return { artifact: record.name, files: paths, size: record.size, sha256: record.sha256 };
  },
});

export const library = planGenerator(
  "repo.library",
  "repo",
  "Generates a TypeScript library (typed helpers, node:test tests) from the plan.",
  librarySource,
);
