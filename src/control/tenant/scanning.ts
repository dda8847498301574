/**
 * A tenant's secret-scanning settings: its default policy and per-project policies, each
 * project's allow list of reviewed fingerprints, and an audit trail of every change. Runs read
 * them once, when the tenant opens them; they are kept in memory after the first read.
 */
import {
  DEFAULT_SCAN_POLICY,
  type AllowedFingerprint,
  type RunScanning,
  type ScanAuditEntry,
  type ScanPolicy,
  type ScanPolicyBody,
  type ScanSettings,
} from "../../../schema/scanning";
import { all } from "../sqlite";

export const SCANNING_MIGRATION = [
  // project '' is the tenant's default.
  `CREATE TABLE scan_policy (project TEXT PRIMARY KEY, policy TEXT NOT NULL)`,
  `CREATE TABLE scan_allow (
    project TEXT NOT NULL, fingerprint TEXT NOT NULL, reason TEXT NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (project, fingerprint))`,
  `CREATE TABLE scan_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, action TEXT NOT NULL, project TEXT, detail TEXT NOT NULL)`,
];

/** A project's allow list is bounded: reviewing findings one by one does not reach this. */
export const MAX_ALLOWED_PER_PROJECT = 1_000;

const iso = (ms: number) => new Date(ms).toISOString();

export class ScanningBook {
  private policies: Map<string, ScanPolicy> | null = null;
  private readonly allowed = new Map<string, string[]>();

  constructor(private readonly sql: SqlStorage) {}

  private policyMap(): Map<string, ScanPolicy> {
    this.policies ??= new Map(
      all<{ project: string; policy: ScanPolicy }>(this.sql, "SELECT project, policy FROM scan_policy").map((r) => [
        r.project,
        r.policy,
      ]),
    );
    return this.policies;
  }

  /** What a new run of `project` scans with. */
  forRun(project: string): RunScanning {
    const policies = this.policyMap();
    let allow = this.allowed.get(project);
    if (!allow) {
      allow = all<{ fingerprint: string }>(
        this.sql,
        "SELECT fingerprint FROM scan_allow WHERE project = ?",
        project,
      ).map((r) => r.fingerprint);
      this.allowed.set(project, allow);
    }
    return { policy: policies.get(project) ?? policies.get("") ?? DEFAULT_SCAN_POLICY, allow };
  }

  settings(): ScanSettings {
    const policies = this.policyMap();
    return {
      policy: policies.get("") ?? DEFAULT_SCAN_POLICY,
      projects: Object.fromEntries([...policies].filter(([p]) => p !== "")),
    };
  }

  setPolicy(body: ScanPolicyBody, now: number): ScanSettings {
    const changes: [string, ScanPolicy | null][] = [
      ...(body.policy ? ([["", body.policy]] as [string, ScanPolicy][]) : []),
      ...Object.entries(body.projects ?? {}),
    ];
    for (const [project, policy] of changes) {
      if (policy) this.sql.exec("INSERT OR REPLACE INTO scan_policy (project, policy) VALUES (?, ?)", project, policy);
      else this.sql.exec("DELETE FROM scan_policy WHERE project = ?", project);
      this.audit(now, "policy.set", project || null, policy ?? "inherit");
    }
    this.policies = null;
    return this.settings();
  }

  /** Accepts a finding for a project; false when the project's list is full. */
  allow(project: string, fingerprint: string, reason: string, now: number): AllowedFingerprint | null {
    const count = all<{ n: number }>(this.sql, "SELECT COUNT(*) AS n FROM scan_allow WHERE project = ?", project)[0]?.n;
    if ((count ?? 0) >= MAX_ALLOWED_PER_PROJECT) return null;
    this.sql.exec(
      "INSERT OR REPLACE INTO scan_allow (project, fingerprint, reason, created_at) VALUES (?, ?, ?, ?)",
      project,
      fingerprint,
      reason,
      now,
    );
    this.audit(now, "allow.add", project, `${fingerprint}: ${reason}`);
    this.allowed.delete(project);
    return { project, fingerprint, reason, createdAt: iso(now) };
  }

  /** Takes a fingerprint off a project's list; false when it was not on it. */
  disallow(project: string, fingerprint: string, now: number): boolean {
    const gone =
      this.sql.exec("DELETE FROM scan_allow WHERE project = ? AND fingerprint = ?", project, fingerprint).rowsWritten >
      0;
    if (gone) this.audit(now, "allow.remove", project, fingerprint);
    this.allowed.delete(project);
    return gone;
  }

  allowList(project?: string): { items: AllowedFingerprint[]; audit: ScanAuditEntry[] } {
    const rows = all<{ project: string; fingerprint: string; reason: string; created_at: number }>(
      this.sql,
      project
        ? "SELECT * FROM scan_allow WHERE project = ? ORDER BY created_at, fingerprint"
        : "SELECT * FROM scan_allow ORDER BY project, created_at, fingerprint",
      ...(project ? [project] : []),
    );
    const audit = all<{ at: number; action: ScanAuditEntry["action"]; project: string | null; detail: string }>(
      this.sql,
      "SELECT * FROM scan_audit ORDER BY seq DESC LIMIT 200",
    );
    return {
      items: rows.map((r) => ({
        project: r.project,
        fingerprint: r.fingerprint,
        reason: r.reason,
        createdAt: iso(r.created_at),
      })),
      audit: audit.map((a) => ({ at: iso(a.at), action: a.action, project: a.project, detail: a.detail })),
    };
  }

  private audit(now: number, action: ScanAuditEntry["action"], project: string | null, detail: string): void {
    this.sql.exec(
      "INSERT INTO scan_audit (at, action, project, detail) VALUES (?, ?, ?, ?)",
      now,
      action,
      project,
      detail,
    );
  }
}
