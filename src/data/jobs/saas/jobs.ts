/** The SaaS Scaffolder pool's jobs: a multi-tenant core and its billing module. */
import { z } from "zod";
import { defineJob } from "../../job";
import { FilesOutput, upstreamPlan } from "../repo/plan";
import { saasBilling, saasCore } from "./source";

export const core = defineJob({
  type: "saas.core",
  pool: "saas",
  description: "Generates the multi-tenant core: tenants, hashed API keys, tenant-scoped data, tests.",
  input: z.object({}).strict(),
  output: FilesOutput,
  run: async ({ upstream }) => ({ files: saasCore(upstreamPlan(upstream)) }),
});

export const billing = defineJob({
  type: "saas.billing",
  pool: "saas",
  description: "Generates the billing module: plans, metered usage, invoices, tests.",
  input: z.object({}).strict(),
  output: FilesOutput,
  run: async () => ({ files: saasBilling() }),
});
