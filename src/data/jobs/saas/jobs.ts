/** The SaaS Scaffolder pool's jobs: a multi-tenant core and its billing module. */
import * as GENERATORS from "../../../../schema/jobs/generators";
import { planGenerator } from "../repo/plan";
import { saasBilling, saasCore } from "./source";

export const core = planGenerator(GENERATORS.saasCore, saasCore);

export const billing = planGenerator(GENERATORS.saasBilling, () => saasBilling());
