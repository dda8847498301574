/**
 * Archival of a finished run, when its hot period ends (its `archive` timer): the run's views go to
 * R2 as one gzipped document (archive-format.ts) with its sha256, which is read back and checked;
 * the tenant records it (run_index.archived_at); then the object deletes its own storage.
 *
 * Every step is safe to repeat, and the object's rows go last: a kill anywhere leaves the run
 * whole in its object (and perhaps an identical archive in R2), and the timer, moved forward
 * before the work starts, brings the alarm back to finish. The archive is deterministic (its time
 * is the timer's, gzip without a timestamp), so a rewrite is byte-identical; and if the run
 * changed while the archive was written (a retry naming it), the archive is written again before
 * anything is deleted, so the copy left is the one the object held last.
 */
import { TERMINAL_RUN_STATUSES } from "../../../schema/vocabulary";
import { archiveKey } from "../../artifacts/keys";
import type { RunRetention } from "../../../schema/retention";
import { json } from "../sqlite";
import { decodeArchive, encodeArchive, runRetention, sha256Hex, type RunArchive } from "./archive-format";
import type { RunStore } from "./store";
import { artifactView, eventView, lineages, runView } from "./views";

/** How long a started archival has to finish before the alarm comes back for it (a kill, a failed write). */
export const ARCHIVE_RETRY_MS = 60_000;
/** Rewrites allowed when the run keeps changing under the archive; then the alarm tries later. */
const MAX_REWRITES = 3;

/** What the archival needs of its object: the pieces it cannot do itself. */
export interface ArchiveHost {
  store: RunStore;
  bucket: R2Bucket;
  /** Moves the archive timer (and the alarm) to `at`: the archival's own retry. */
  retryAt(at: number): Promise<void>;
  /** Hands the outbox to its receivers now; true once it is empty. */
  drainOutbox(): Promise<boolean>;
  recordArchived(tenantId: string, runId: string, archive: { at: number; bytes: number }): Promise<unknown>;
  /** Deletes the alarm and every row of the object; the store forgets it held a run. */
  dropStorage(): Promise<void>;
}

export type ArchiveOutcome = "archived" | "not-due" | "retry-later";

/** The archive of the run the store holds, as of now: its time is when the hot period ended. */
export function buildArchive(store: RunStore, archivedAt: number): RunArchive {
  const run = store.existingRun();
  const steps = store.steps();
  const artifacts = store.artifacts();
  const lineage = lineages(run, steps, artifacts);
  const events = [];
  for (let after = 0; ; ) {
    const page = store.events(after, 1000);
    events.push(...page.map((e) => eventView(run, e)));
    const last = page[page.length - 1];
    if (!last || page.length < 1000) break;
    after = last.seq;
  }
  return {
    format: 1,
    tenantId: run.tenant_id,
    archivedAt,
    retention: runRetention(run),
    run: runView(run, steps),
    events,
    usage: { usage: store.usage(), final: true, waitingMs: store.waitingMs(run.finished_at ?? archivedAt) },
    artifacts: artifacts.map((a) => ({ ...artifactView(a, run.status, lineage(a)), key: a.r2_key })),
    gates: store.gates.dump(),
  };
}

/** Writes the archive to R2 with its checksum, reads it back and checks it; returns its size. */
export async function writeArchive(bucket: R2Bucket, archive: RunArchive): Promise<{ bytes: number; sha256: string }> {
  const key = archiveKey(archive.tenantId, archive.run.id);
  const { bytes, sha256 } = await encodeArchive(archive);
  await bucket.put(key, bytes, {
    sha256, // R2 refuses a body that does not match
    httpMetadata: { contentType: "application/gzip" },
    customMetadata: { sha256, format: String(archive.format) },
  });
  const back = await bucket.get(key);
  if (!back) throw new Error(`run archive ${key} missing right after its write`);
  const read = new Uint8Array(await back.arrayBuffer());
  if ((await sha256Hex(read)) !== sha256) throw new Error(`run archive ${key} read back with another checksum`);
  decodeArchive(read); // and it parses: never delete the run for an archive that cannot be read
  return { bytes: read.byteLength, sha256 };
}

/**
 * Archives the run if its hot period has ended: write, verify, tell the tenant, empty the object.
 * "retry-later" when its events are not all handed over yet or it kept changing; the timer was
 * moved, so the alarm comes back.
 */
export async function archiveRun(host: ArchiveHost, now: number): Promise<ArchiveOutcome> {
  const { store } = host;
  const run = store.run();
  const dueAt = store.timerDueAt("archive", "run");
  if (!run || !TERMINAL_RUN_STATUSES.has(run.status) || dueAt === null || dueAt > now) return "not-due";
  // From here a kill leaves the timer set: the alarm finishes the archival after it.
  await host.retryAt(now + ARCHIVE_RETRY_MS);
  // Events still held for the tenant (webhooks, the final sync) go first: they would die with the rows.
  if (!(await host.drainOutbox())) return "retry-later";
  for (let rewrite = 0; rewrite < MAX_REWRITES; rewrite++) {
    const archive = buildArchive(store, dueAt);
    const text = JSON.stringify(archive);
    const written = await writeArchive(host.bucket, archive);
    await host.recordArchived(run.tenant_id, run.id, { at: dueAt, bytes: written.bytes });
    // The writes above let other calls in: only a run unchanged since its archive was built is dropped.
    // No await between this check and the deletes' first storage call, which holds the input gate.
    if (JSON.stringify(buildArchive(store, dueAt)) !== text) continue;
    if (!store.outboxEmpty()) return "retry-later";
    await host.dropStorage();
    return "archived";
  }
  return "retry-later";
}

/**
 * A run that finished before retention existed set no archive timer, so it would stay hot for
 * ever. Its tenant's backfill pass (tenant/archive-backfill.ts) hands it the project's retention
 * now: the run keeps it (a run made before retention has none) and archives itself when the hot
 * period, counted from when it finished, ends (at once if it has). Call inside a transaction.
 * False, and nothing written, for a run not finished or that has its timer already.
 */
export function backfillArchive(store: RunStore, retention: RunRetention, now: number): boolean {
  const run = store.run();
  if (!run || !TERMINAL_RUN_STATUSES.has(run.status) || store.hasTimer("archive", "run")) return false;
  if (run.retention === null) store.setRunRetention(json.write(retention));
  const hotMs = runRetention(store.existingRun()).hotMs;
  store.setTimer("archive", "run", (run.finished_at ?? now) + hotMs);
  return true;
}
