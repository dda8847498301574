/** The Repo Generator pool's jobs: plan a service, scaffold its source, write its docs, package it. */
import { strToU8, zipSync, type Zippable } from "fflate";
import * as GENERATORS from "../../../../schema/jobs/generators";
import type { FileMap } from "../../../../schema/jobs/generators";
import { NonRetryableError } from "../../../errors";
import { defineJob } from "../../job";
import { planGenerator, planService, upstreamPlan } from "./plan";
import { serviceReadme } from "./docs";
import { librarySource } from "./library";
import { moduleSource, serviceSource } from "./source";

export const plan = defineJob(GENERATORS.plan, async ({ input, spawn, log }) => {
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
});

export const module = defineJob(GENERATORS.module, async ({ input }) => ({
  files: { [`src/modules/module-${input.index}.ts`]: moduleSource(input.index) },
}));

export const scaffold = defineJob(GENERATORS.scaffold, async ({ upstream }) => {
  const modules = Object.values(upstream).flatMap((v) => {
    const parsed = GENERATORS.FilesOutput.safeParse(v);
    return parsed.success ? Object.entries(parsed.data.files) : [];
  });
  return { files: { ...serviceSource(upstreamPlan(upstream)), ...Object.fromEntries(modules) } };
});

export const docs = planGenerator(GENERATORS.docs, (plan) => ({
  "README.md": serviceReadme(plan),
}));

export const pack = defineJob(GENERATORS.pack, async ({ input, upstream, artifacts }) => {
  const files: FileMap = {};
  for (const [stepId, value] of Object.entries(upstream)) {
    const parsed = GENERATORS.FilesOutput.safeParse(value);
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
});

export const library = planGenerator(GENERATORS.library, librarySource);
