/**
 * Spawned steps of a tenant's own job types (issue 27's gap): before the run takes a report in,
 * the current version of each tenant type its `spawn` names is read from the tenant's registry
 * (WorkersObject) and pinned into the spawned step, as run creation pins a run's own steps. So a
 * spawned step pins the version current at spawn; its input is checked against that version's
 * schema and it is served by the tenant's pool. A report that spawns only built-in types (or
 * nothing) makes no call.
 */
import type { StepReport } from "../../../schema/run";
import type { Env } from "../../env";
import { isTenantJobType, type TenantJob, tenantJobs } from "../tenant-jobs";
import type { WorkersObject } from "../workers/object";

type Registry = Pick<WorkersObject, "current">;

export async function spawnedTenantJobs(
  env: Env,
  tenantId: string | undefined,
  report: StepReport,
): Promise<ReadonlyMap<string, TenantJob> | undefined> {
  if (report.outcome !== "succeeded" || !report.spawn?.length || !tenantId) return undefined;
  const names = [
    ...new Set(
      report.spawn.map((s) => (s as { type?: unknown }).type).filter((t): t is string => typeof t === "string"),
    ),
  ].filter(isTenantJobType);
  if (names.length === 0) return undefined;
  const registry = env.WORKERS.getByName(tenantId) as unknown as Registry;
  return tenantJobs(await registry.current(names));
}
