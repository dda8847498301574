/**
 * The archive of a finished run: what its object held, as the read APIs show it, written to R2 at
 * `archiveKey(tenant, run)` as gzipped JSON once the run's hot period ends (archive.ts), and read
 * back by the API when the object is empty. Storing the views rather than the rows means an
 * archived run answers `GET /v1/runs/{id}`, its events, usage and artifacts with the same shapes
 * and the same values as it did while hot, with no second copy of the view code to drift. Pure.
 */
import { gunzipSync, gzipSync, strFromU8, strToU8 } from "fflate";
import type { ArtifactView, WireEvent, WireRun } from "../../../schema/api";
import { RETENTION_DEFAULTS, type RunRetention } from "../../../schema/retention";
import type { RunUsage } from "../../../schema/usage";
import { json } from "../sqlite";
import type { RunRow } from "./rows";

/** Bumped when the document changes shape; a reader refuses a format it does not know. */
export const ARCHIVE_FORMAT = 1;

export interface RunArchive {
  format: typeof ARCHIVE_FORMAT;
  tenantId: string;
  /** When the hot period ended (epoch ms): fixed by the run, so a rewritten archive is byte-identical. */
  archivedAt: number;
  /** The run's retention, for the tenant's expiry of the archive. */
  retention: RunRetention;
  run: WireRun;
  /** The whole event log, in order. */
  events: WireEvent[];
  usage: { usage: RunUsage; final: boolean; waitingMs: number };
  /** The artifact manifest with lineage, and each artifact's R2 key (for downloads while the bytes are kept). */
  artifacts: (ArtifactView & { key: string })[];
  /** Approval decisions, signals and used decision links, as their rows (empty for a run without gates). */
  gates: Record<string, Record<string, SqlStorageValue>[]>;
}

/** The run's retention as stored on its row; a run made before retention, or without one, gets the defaults. */
export function runRetention(run: Pick<RunRow, "retention">): RunRetention {
  return (
    json.read<RunRetention>(run.retention) ?? {
      hotMs: RETENTION_DEFAULTS.runHotSeconds * 1000,
      archiveMs: RETENTION_DEFAULTS.archiveSeconds * 1000,
      unpublishedMs: RETENTION_DEFAULTS.unpublishedArtifactSeconds * 1000,
    }
  );
}

/** The gzipped document and its sha256 (hex), which R2 also checks on the write. */
export async function encodeArchive(archive: RunArchive): Promise<{ bytes: Uint8Array; sha256: string }> {
  // mtime 0: the same archive always gzips to the same bytes, so a rewrite after a crash is identical.
  const bytes = gzipSync(strToU8(JSON.stringify(archive)), { mtime: 0 });
  return { bytes, sha256: await sha256Hex(bytes) };
}

/** Parses an archive read from R2; throws on a corrupt or unknown one rather than answer with half a run. */
export function decodeArchive(bytes: Uint8Array): RunArchive {
  const archive = JSON.parse(strFromU8(gunzipSync(bytes))) as RunArchive;
  if (archive.format !== ARCHIVE_FORMAT) throw new Error(`unknown run archive format ${String(archive.format)}`);
  return archive;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The run as `GET /v1/runs/{id}` shows an archived one: as it was, with when it was archived. */
export function archivedRun(archive: RunArchive): WireRun {
  // Archives written before runs carried their origin: the API's, or their retry's.
  const origin =
    archive.run.origin ??
    (archive.run.retryOf ? { kind: "retry", id: archive.run.retryOf } : { kind: "api", id: null });
  // ...and before they carried labels and their requester.
  const { tags = [], metadata = {}, requestedBy = null } = archive.run as Partial<WireRun>;
  return {
    ...archive.run,
    origin,
    tags,
    metadata,
    requestedBy,
    archivedAt: new Date(archive.archivedAt).toISOString(),
  };
}

/** A page of an archived run's events, as the object pages them: the run is over, so the last page is final. */
export function archivedEvents(
  archive: RunArchive,
  after: number,
  limit: number,
): { items: WireEvent[]; nextAfter: number | null; finished: boolean } {
  const items = archive.events.filter((e) => e.seq > after).slice(0, limit);
  const last = items[items.length - 1];
  return {
    items,
    nextAfter: last && items.length === limit ? last.seq : null,
    finished: items.length < limit,
  };
}
