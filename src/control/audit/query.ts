/**
 * The WHERE clause of an audit query, shared by the audit object (its own entries) and the tenant
 * shards (run creations, served from the run index so that opening a run costs no extra call).
 */
import type { AuditFilter } from "../../../schema/audit";

export interface AuditColumns {
  at: string;
  id: string;
  action: string;
  actor: string;
  target: string;
}

/** Conditions and their parameters; `action` and `target` left out when the source cannot match them. */
export function auditWhere(f: AuditFilter, col: AuditColumns): { where: string; params: unknown[] } {
  const conds: string[] = [];
  const params: unknown[] = [];
  const add = (cond: string, ...values: unknown[]) => {
    conds.push(cond);
    params.push(...values);
  };
  if (f.action) add(`${col.action} = ?`, f.action);
  if (f.target) add(`${col.target} = ?`, f.target);
  // `key` matches every key, `key:k1` that one key.
  if (f.actor) add(`(${col.actor} = ? OR ${col.actor} LIKE ? ESCAPE '\\')`, f.actor, `${likeEscape(f.actor)}:%`);
  if (f.since !== undefined) add(`${col.at} >= ?`, f.since);
  if (f.until !== undefined) add(`${col.at} <= ?`, f.until);
  if (f.before) add(`(${col.at} < ? OR (${col.at} = ? AND ${col.id} < ?))`, f.before.at, f.before.at, f.before.id);
  return { where: conds.length ? `WHERE ${conds.join(" AND ")}` : "", params };
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (m) => `\\${m}`);
