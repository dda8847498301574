/**
 * A tenant's retention policy (its periods and per-project overrides) and the deadlines it sets:
 * when a finished run's unpublished artifacts go, when an archived run goes, when a superseded
 * version goes. Each deadline is a column with a partial index, fixed by the policy as it stands
 * when the deadline is set (a run's finish, its archival, a version's supersession): a changed
 * policy applies to what finishes, archives or is superseded after the change, and a deadline
 * already set is never moved, so the tenant's alarm finds the next one with one indexed MIN.
 */
import {
  RETENTION_DEFAULTS,
  type RetentionPeriods,
  type RetentionPolicy,
  type RetentionSettings,
  type RunRetention,
} from "../../../schema/retention";
import { all, json } from "../sqlite";

export const RETENTION_MIGRATION = [
  // project '' is the tenant's own periods; a row per project with overrides.
  `CREATE TABLE retention_policy (project TEXT PRIMARY KEY, periods TEXT NOT NULL)`,
  // Set by a run's final sync: when it finished, what it holds, and its deadlines under the policy then.
  `ALTER TABLE run_index ADD COLUMN finished_at INTEGER`,
  `ALTER TABLE run_index ADD COLUMN state_bytes INTEGER`,
  `ALTER TABLE run_index ADD COLUMN artifact_bytes INTEGER`,
  `ALTER TABLE run_index ADD COLUMN unpublished_due INTEGER`,
  `ALTER TABLE run_index ADD COLUMN archive_ms INTEGER`,
  // Set at archival: archived_at + archive_ms.
  `ALTER TABLE run_index ADD COLUMN expires_at INTEGER`,
  `CREATE INDEX run_index_unpublished_due ON run_index (unpublished_due) WHERE unpublished_due IS NOT NULL`,
  `CREATE INDEX run_index_expires ON run_index (expires_at) WHERE expires_at IS NOT NULL`,
  `ALTER TABLE artifact_version ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0`,
  `ALTER TABLE artifact_version ADD COLUMN expires_at INTEGER`,
  `ALTER TABLE artifact_version ADD COLUMN expired_at INTEGER`,
  `CREATE INDEX artifact_version_expires ON artifact_version (expires_at) WHERE expires_at IS NOT NULL`,
  // Which versions hold keys under a run's prefix (a retry's version may hold its source run's key).
  `CREATE INDEX artifact_version_key ON artifact_version (r2_key)`,
];

const S = 1_000;

/** One project's periods in milliseconds, as a run and the sweeps use them. */
export interface Periods {
  hotMs: number;
  archiveMs: number;
  unpublishedMs: number;
  supersededMs: number;
}

const toMs = (p: RetentionPeriods): Periods => ({
  hotMs: p.runHotSeconds * S,
  archiveMs: p.archiveSeconds * S,
  unpublishedMs: p.unpublishedArtifactSeconds * S,
  supersededMs: p.supersededArtifactSeconds * S,
});

export class RetentionBook {
  /** Read once per object lifetime; changed only through `set`. */
  private stored: Map<string, Partial<RetentionPeriods>> | null = null;

  constructor(private readonly sql: SqlStorage) {}

  private rows(): Map<string, Partial<RetentionPeriods>> {
    this.stored ??= new Map(
      all<{ project: string; periods: string }>(this.sql, "SELECT project, periods FROM retention_policy").map((r) => [
        r.project,
        json.read<Partial<RetentionPeriods>>(r.periods) ?? {},
      ]),
    );
    return this.stored;
  }

  private periodsOf(project: string): RetentionPeriods {
    const rows = this.rows();
    return { ...RETENTION_DEFAULTS, ...rows.get(""), ...(project === "" ? {} : rows.get(project)) };
  }

  /** A project's periods in force, in ms. */
  of(project: string): Periods {
    return toMs(this.periodsOf(project));
  }

  /** What a new run of `project` is told (its hot period, and its archive's and artifacts' for its record). */
  forRun(project: string): RunRetention {
    const { hotMs, archiveMs, unpublishedMs } = this.of(project);
    return { hotMs, archiveMs, unpublishedMs };
  }

  /** Replaces the policy (what is left out is the default); deadlines already set stand. */
  set(policy: RetentionPolicy): void {
    const { projects, ...tenant } = policy;
    this.sql.exec("DELETE FROM retention_policy");
    this.sql.exec("INSERT INTO retention_policy (project, periods) VALUES ('', ?)", json.write(tenant));
    for (const [project, periods] of Object.entries(projects ?? {}))
      this.sql.exec("INSERT INTO retention_policy (project, periods) VALUES (?, ?)", project, json.write(periods));
    this.stored = null;
  }

  /** The policy as set (what `set` takes): home hands it to the tenant's other shards. */
  policy(): RetentionPolicy {
    const rows = this.rows();
    const projects = Object.fromEntries([...rows].filter(([p]) => p !== ""));
    return { ...rows.get(""), ...(Object.keys(projects).length > 0 ? { projects } : {}) };
  }

  settings(minSeconds: number): RetentionSettings {
    const projects = [...this.rows().keys()].filter((p) => p !== "");
    return {
      policy: this.periodsOf(""),
      projects: Object.fromEntries(projects.map((p) => [p, this.periodsOf(p)])),
      defaults: { ...RETENTION_DEFAULTS },
      minSeconds,
    };
  }
}
