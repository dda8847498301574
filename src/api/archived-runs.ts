/**
 * Reads of archived runs. A finished run's object empties itself once the run is archived to R2
 * (control/run/archive.ts); the run's routes then answer from the archive at
 * `archiveKey(callerTenant, id)`. The key is built from the caller's own tenant, so one tenant
 * can never read another's archive. The archive is written before the object empties itself, so
 * a read that finds the object empty finds the archive: a run being archived is never a 404.
 */
import { archiveKey, isSafeSegment } from "../artifacts/keys";
import { decodeArchive, type RunArchive } from "../control/run/archive-format";
import type { Env } from "../env";
import { AppError } from "../errors";

/** The caller's archive of run `runId`, or null when it has none. */
export async function readArchive(env: Env, tenantId: string, runId: string): Promise<RunArchive | null> {
  if (!isSafeSegment(tenantId) || !isSafeSegment(runId)) return null;
  const object = await env.ARTIFACTS.get(archiveKey(tenantId, runId));
  return object ? decodeArchive(new Uint8Array(await object.arrayBuffer())) : null;
}

/** The archive of a run its object no longer holds; `run.not_found` when there is none either. */
export async function archiveOrNotFound(env: Env, tenantId: string, runId: string): Promise<RunArchive> {
  const archive = await readArchive(env, tenantId, runId);
  if (!archive) throw new AppError("run.not_found");
  return archive;
}

/**
 * Why a control found no run in its object: it is archived (409 `run.archived`: it can be read
 * and deleted, never changed) or there is no such run of the caller's.
 */
export async function missingRun(env: Env, tenantId: string, runId: string): Promise<AppError> {
  const archived =
    isSafeSegment(tenantId) && isSafeSegment(runId) && (await env.ARTIFACTS.head(archiveKey(tenantId, runId)));
  return new AppError(archived ? "run.archived" : "run.not_found");
}
