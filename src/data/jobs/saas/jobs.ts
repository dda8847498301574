/** The SaaS Scaffolder pool's jobs: a multi-tenant core and its billing module. */
import { planGenerator } from "../repo/plan";
import { saasBilling, saasCore } from "./source";

export const core = planGenerator(
  "saas.core",
  "saas",
  "Generates the multi-tenant core: tenants, hashed API keys, tenant-scoped data, tests.",
  saasCore,
);

export const billing = planGenerator(
  "saas.billing",
  "saas",
  "Generates the billing module: plans, metered usage, invoices, tests.",
  () => saasBilling(),
);
