/**
 * Run creation's look-up of the tenant's own job types (issue 27): only when a step names a type
 * that is not built in and could be the tenant's, so a run of built-in types makes no extra call.
 * The key is verified first (the registry is the key's tenant's), then the current version of
 * each name is pinned into the run.
 */
import type { Context } from "hono";
import type { CreateRunBody } from "../../schema/api";
import { isTenantJobType, type TenantJob, tenantJobs } from "../control/tenant-jobs";
import { verifyKey } from "./auth";
import type { AppEnv } from "./common";
import { registryOf } from "./pools";

export async function tenantJobsOf(
  c: Context<AppEnv>,
  body: CreateRunBody,
): Promise<ReadonlyMap<string, TenantJob> | undefined> {
  const names = [...new Set((body.steps ?? []).map((s) => s.type).filter(isTenantJobType))];
  if (names.length === 0) return undefined;
  await verifyKey(c);
  return tenantJobs(await registryOf(c.env, c.get("tenantId")).current(names));
}
