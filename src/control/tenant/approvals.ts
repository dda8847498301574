/**
 * The tenant's approval gates across its runs, for `GET /v1/approvals`. Followed from the gate
 * events each run hands its tenant with its webhook events (`acceptEvents`), so keeping the list
 * costs no call of its own; a run without gates writes nothing here.
 */
import type { ApprovalView, JsonObject } from "../../../schema/api";
import type { Decider } from "../../../schema/run";
import type { PlannedEvent } from "./webhooks";
import { all, json } from "../sqlite";

export const APPROVALS_MIGRATION = [
  `CREATE TABLE approval (
    run_id TEXT NOT NULL, step_id TEXT NOT NULL, project TEXT NOT NULL, title TEXT NOT NULL,
    status TEXT NOT NULL, requested_at INTEGER NOT NULL, expires_at INTEGER, decided_at INTEGER,
    by TEXT, comment TEXT, PRIMARY KEY (run_id, step_id))`,
  `CREATE INDEX approval_pending ON approval (status, requested_at, run_id, step_id)`,
  `CREATE INDEX approval_decided ON approval (decided_at DESC, run_id DESC, step_id DESC) WHERE status != 'pending'`,
];

/** An event as a run hands it over: the envelope (schema/api.ts EventEnvelope). */
export type HandedEvent = PlannedEvent & { stepId?: string; occurredAt?: string; data?: JsonObject };

interface ApprovalRow {
  run_id: string;
  step_id: string;
  project: string;
  title: string;
  status: ApprovalView["status"];
  requested_at: number;
  expires_at: number | null;
  decided_at: number | null;
  by: string | null;
  comment: string | null;
}

export interface ListApprovalsFilter {
  status: "pending" | "decided";
  limit: number;
  project?: string;
  cursor?: { at: number; runId: string; stepId: string };
}

const ENDINGS: Record<string, ApprovalView["status"]> = {
  "step.approved": "approved",
  "step.rejected": "rejected",
  "step.approval_expired": "expired",
  "step.cancelled": "cancelled",
};

export class ApprovalBook {
  constructor(private readonly sql: SqlStorage) {}

  /** Follows gate events; every other event is passed over without a statement. */
  follow(events: readonly HandedEvent[]): void {
    for (const e of events) {
      const at = e.occurredAt ? Date.parse(e.occurredAt) : Date.now();
      const data = e.data ?? {};
      if (!e.stepId) continue;
      if (e.type === "step.waiting" && data.kind === "approval") {
        this.sql.exec(
          `INSERT INTO approval (run_id, step_id, project, title, status, requested_at, expires_at)
           VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (run_id, step_id) DO NOTHING`,
          e.runId,
          e.stepId,
          e.projectId,
          String(data.title ?? e.stepId),
          at,
          typeof data.expiresAt === "string" ? Date.parse(data.expiresAt) : null,
        );
        continue;
      }
      const status = ENDINGS[e.type];
      // A cancelled step is news here only if it was a waiting approval gate.
      if (!status || (e.type === "step.cancelled" && data.gate !== "approval")) continue;
      // The first ending wins: an expiry's own decision (approve/reject on timeout) does not overwrite it.
      this.sql.exec(
        `UPDATE approval SET status = ?, decided_at = ?, by = ?, comment = ? WHERE run_id = ? AND step_id = ? AND status = 'pending'`,
        status,
        at,
        json.write(data.by ?? (status === "expired" ? { kind: "timeout" } : null)),
        typeof data.comment === "string" ? data.comment : null,
        e.runId,
        e.stepId,
      );
    }
  }

  list(f: ListApprovalsFilter): { items: ApprovalView[]; next: { at: number; runId: string; stepId: string } | null } {
    const pending = f.status === "pending";
    const where: string[] = [pending ? "status = 'pending'" : "status != 'pending'"];
    const params: SqlStorageValue[] = [];
    if (f.project) {
      where.push("project = ?");
      params.push(f.project);
    }
    if (f.cursor) {
      const col = pending ? "requested_at" : "decided_at";
      where.push(`(${col}, run_id, step_id) ${pending ? ">" : "<"} (?, ?, ?)`);
      params.push(f.cursor.at, f.cursor.runId, f.cursor.stepId);
    }
    const order = pending ? "requested_at, run_id, step_id" : "decided_at DESC, run_id DESC, step_id DESC";
    const rows = all<ApprovalRow>(
      this.sql,
      `SELECT * FROM approval WHERE ${where.join(" AND ")} ORDER BY ${order} LIMIT ?`,
      ...params,
      f.limit + 1,
    );
    const page = rows.slice(0, f.limit);
    const last = page[page.length - 1];
    return {
      items: page.map(view),
      next:
        rows.length > f.limit && last
          ? { at: pending ? last.requested_at : (last.decided_at ?? 0), runId: last.run_id, stepId: last.step_id }
          : null,
    };
  }

  /** For metrics: gates waiting now, and the waits of the gates decided in [from, to). */
  stats(from: number, to: number): { pending: number; waits: number[] } {
    const pending = all<{ n: number }>(this.sql, "SELECT COUNT(*) AS n FROM approval WHERE status = 'pending'")[0]?.n;
    const waits = all<{ ms: number }>(
      this.sql,
      `SELECT decided_at - requested_at AS ms FROM approval
       WHERE status IN ('approved', 'rejected', 'expired') AND decided_at >= ? AND decided_at < ?`,
      from,
      to,
    ).map((r) => r.ms);
    return { pending: pending ?? 0, waits };
  }
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function view(r: ApprovalRow): ApprovalView {
  return {
    runId: r.run_id,
    stepId: r.step_id,
    project: r.project,
    title: r.title,
    status: r.status,
    requestedAt: new Date(r.requested_at).toISOString(),
    expiresAt: iso(r.expires_at),
    decidedAt: iso(r.decided_at),
    by: json.read<Decider>(r.by),
    comment: r.comment,
  };
}
