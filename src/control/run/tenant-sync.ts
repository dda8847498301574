/**
 * What a run tells its tenant's index when it moves (the `tenant` outbox row): its status, and when
 * it ends, its usage, outcome, storage and the artifacts it published.
 */
import { TERMINAL_RUN_STATUSES } from "../../../schema/vocabulary";
import type { PublishedArtifact } from "../../../schema/artifacts";
import type { TenantSync } from "../../../schema/run";
import type { RunRow } from "./rows";
import type { RunStore } from "./store";
import { lineages } from "./views";
import { searchFields } from "./labels";
import { runOutcome } from "./run-usage";

export function tenantSync(store: RunStore, now: number): TenantSync {
  const run = store.existingRun();
  const ended = TERMINAL_RUN_STATUSES.has(run.status);
  return {
    runId: run.id,
    project: run.project,
    blueprint: run.blueprint,
    status: run.status,
    priority: run.priority,
    createdAt: run.created_at,
    at: now,
    version: store.lastEventSeq(),
    ...(ended ? { usage: store.usage(), outcome: runOutcome(run, now), storage: storage(store) } : {}),
    ...(run.status === "succeeded" ? published(store, run) : {}),
    // A retry is not opened by the tenant: whichever of its syncs is indexed first (the outbox
    // sends only the latest) inserts its entry, so each says what it is searched by.
    ...(run.retry_of !== null ? { search: searchFields(run) } : {}),
  };
}

/**
 * What the finished run holds, for the tenant's storage figures: its database as it stands before
 * this last transaction's writes (a page or two short), and the bytes its attempts wrote under
 * its R2 prefix (artifacts carried over from a retried run stay under that run's).
 */
function storage(store: RunStore): { stateBytes: number; artifactBytes: number } {
  return { stateBytes: store.databaseSize(), artifactBytes: store.usage().artifactBytes };
}

/** A succeeded run's artifacts with their lineage, for the tenant to version (none: nothing to say). */
function published(store: RunStore, run: RunRow): { published?: PublishedArtifact[] } {
  const rows = store.artifacts().filter((a) => a.status !== "rejected");
  if (rows.length === 0) return {};
  const lineage = lineages(run, store.steps(), rows);
  return {
    published: rows.map((a) => ({
      name: a.name,
      key: a.r2_key,
      size: a.size,
      contentType: a.content_type,
      sha256: a.sha256,
      lineage: lineage(a),
    })),
  };
}
