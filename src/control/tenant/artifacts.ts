/**
 * Published artifacts of a tenant's projects, versioned per (project, name): a succeeded run's
 * artifacts become version N+1 unless their bytes equal version N's (then N is republished, not
 * duplicated). The tenant's object serializes publications, so two runs finishing at once get
 * distinct versions; a run's publication is recorded once however often its sync arrives.
 */
import type { ArtifactVersion, Lineage, PublishedArtifact } from "../../../schema/artifacts";
import { all, json } from "../sqlite";
import { must } from "../../lib/must";

export const ARTIFACT_VERSION_MIGRATION = [
  `CREATE TABLE artifact_version (
    project TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    content_type TEXT NOT NULL, r2_key TEXT NOT NULL, run_id TEXT NOT NULL, published_at INTEGER NOT NULL,
    republished INTEGER NOT NULL DEFAULT 0, lineage TEXT NOT NULL, PRIMARY KEY (project, name, version))`,
  // Which runs published what (the first, or a republication of the same bytes): a sync seen twice adds nothing.
  `CREATE TABLE artifact_publication (
    project TEXT NOT NULL, name TEXT NOT NULL, run_id TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (project, name, run_id))`,
];

interface VersionRow {
  project: string;
  name: string;
  version: number;
  sha256: string;
  size: number;
  content_type: string;
  r2_key: string;
  run_id: string;
  published_at: number;
  republished: number;
  lineage: string;
  latest: number;
  pinned: number;
  expires_at: number | null;
  expired_at: number | null;
}

/** A version row with its R2 key, for the API to read the bytes (a diff). */
export type StoredVersion = ArtifactVersion & { key: string };

export class ArtifactVersions {
  constructor(private readonly sql: SqlStorage) {}

  /** `supersededMs`: how long the version a new one supersedes is kept (retention.ts), unless pinned. */
  publish(project: string, runId: string, artifacts: PublishedArtifact[], now: number, supersededMs: number): void {
    for (const a of artifacts) {
      const seen = all(
        this.sql,
        "SELECT 1 FROM artifact_publication WHERE project = ? AND name = ? AND run_id = ?",
        project,
        a.name,
        runId,
      );
      if (seen.length > 0) continue;
      const latest = all<{ version: number; sha256: string }>(
        this.sql,
        "SELECT version, sha256 FROM artifact_version WHERE project = ? AND name = ? ORDER BY version DESC LIMIT 1",
        project,
        a.name,
      )[0];
      let version: number;
      if (latest && latest.sha256 === a.sha256) {
        version = latest.version;
        this.sql.exec(
          "UPDATE artifact_version SET republished = republished + 1 WHERE project = ? AND name = ? AND version = ?",
          project,
          a.name,
          version,
        );
      } else {
        version = (latest?.version ?? 0) + 1;
        this.sql.exec(
          `INSERT INTO artifact_version (project, name, version, sha256, size, content_type, r2_key, run_id, published_at, lineage)
           VALUES (?,?,?,?,?,?,?,?,?,?)`,
          project,
          a.name,
          version,
          a.sha256,
          a.size,
          a.contentType,
          a.key,
          runId,
          now,
          json.write(a.lineage),
        );
        if (latest)
          this.sql.exec(
            "UPDATE artifact_version SET expires_at = ? WHERE project = ? AND name = ? AND version = ? AND pinned = 0 AND expired_at IS NULL",
            now + supersededMs,
            project,
            a.name,
            latest.version,
          );
      }
      this.sql.exec(
        "INSERT INTO artifact_publication (project, name, run_id, version) VALUES (?,?,?,?)",
        project,
        a.name,
        runId,
        version,
      );
    }
  }

  /** The latest version of each name in a project. */
  latest(project: string): StoredVersion[] {
    return all<VersionRow>(
      this.sql,
      `SELECT v.*, 1 AS latest FROM artifact_version v
       WHERE v.project = ? AND v.version = (SELECT MAX(version) FROM artifact_version w WHERE w.project = v.project AND w.name = v.name)
       ORDER BY v.name`,
      project,
    ).map(view);
  }

  /** Versions of a name, newest first, before `before` (a cursor) if given. */
  versions(project: string, name: string, limit: number, before?: number): StoredVersion[] {
    return all<VersionRow>(
      this.sql,
      `SELECT v.*, v.version = (SELECT MAX(version) FROM artifact_version w WHERE w.project = v.project AND w.name = v.name) AS latest
       FROM artifact_version v WHERE v.project = ? AND v.name = ? AND v.version < ? ORDER BY v.version DESC LIMIT ?`,
      project,
      name,
      before ?? Number.MAX_SAFE_INTEGER,
      limit,
    ).map(view);
  }

  version(project: string, name: string, version: number): StoredVersion | null {
    return this.versions(project, name, 1, version + 1).find((v) => v.version === version) ?? null;
  }

  /**
   * Pins a version (it is kept however long ago it was superseded) or unpins it: a superseded
   * version unpinned is kept `supersededMs` from now. Null when there is no such version; an
   * expired version cannot be pinned again (its bytes are gone): returned unchanged.
   */
  pin(project: string, name: string, version: number, pinned: boolean, now: number, supersededMs: number) {
    const found = this.version(project, name, version);
    if (!found || found.status === "expired") return found;
    this.sql.exec(
      "UPDATE artifact_version SET pinned = ?, expires_at = ? WHERE project = ? AND name = ? AND version = ?",
      pinned ? 1 : 0,
      pinned || found.status === "published" ? null : now + supersededMs,
      project,
      name,
      version,
    );
    return this.version(project, name, version);
  }
}

function view(r: VersionRow): StoredVersion {
  return {
    project: r.project,
    name: r.name,
    version: r.version,
    status: r.expired_at !== null ? "expired" : r.latest ? "published" : "superseded",
    sha256: r.sha256,
    size: r.size,
    contentType: r.content_type,
    publishedAt: new Date(r.published_at).toISOString(),
    republished: r.republished,
    // The version's own bytes: they outlive the run that published it (its archive expires first).
    downloadUrl: `/v1/projects/${encodeURIComponent(r.project)}/artifacts/${encodeURIComponent(r.name)}/versions/${r.version}/content`,
    lineage: must(json.read<Lineage>(r.lineage), "a version's lineage"),
    pinned: r.pinned === 1,
    expiresAt: r.expires_at === null ? null : new Date(r.expires_at).toISOString(),
    expiredAt: r.expired_at === null ? null : new Date(r.expired_at).toISOString(),
    key: r.r2_key,
  };
}
