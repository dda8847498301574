/**
 * Deleting a finished run everywhere (`DELETE /v1/runs/{id}` and a bulk delete): a hot run's object
 * deletes its R2 keys and then its own storage (RunObject.purge); an archived run's object is empty
 * already, so its R2 prefix (archive and artifacts) is deleted here; then the tenant forgets the
 * run (control/tenant/run-deletion.ts). Each step is idempotent and the index row goes last, so a
 * delete cut short is finished by the next one.
 */
import type { Refusal } from "../../schema/errors";
import { purgeRunObjects } from "../artifacts/purge";
import type { Env } from "../env";
import { runStub } from "./run/stub";

/** "deleted", "missing" (nothing of the tenant's held it), or the run's refusal (`run.active`). */
export async function deleteRun(env: Env, tenantId: string, id: string): Promise<"deleted" | "missing" | Refusal> {
  const purged = await runStub(env, id).purge(tenantId);
  if (purged && !purged.ok) return purged;
  // No run of this tenant's in the object: archived (or a delete cut short), so only R2 holds it.
  const deletedKeys = purged ? 0 : await purgeRunObjects(env.ARTIFACTS, tenantId, id);
  const indexed = await env.TENANT.getByName(tenantId).deleteRun(id);
  return !purged && deletedKeys === 0 && !indexed ? "missing" : "deleted";
}
