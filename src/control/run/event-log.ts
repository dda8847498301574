/**
 * The run's event log: appended to by every decision, its rows written at commit with the
 * transaction's others (one multi-row insert); the last sequence number is kept in memory.
 */
import type { EventType } from "../../../schema/vocabulary";
import { insertMany, json } from "../sqlite";
import { ENDING_TYPES, ENDINGS, type EndingRow, type EventRow } from "./rows";
import type { RunSql } from "./store-sql";

export class EventLog {
  private pending: EventRow[] = [];
  private cachedSeq: number | undefined;
  /**
   * Set when an ending event is appended, until endingsSince() reads it (in memory only). Starts
   * false: the object's analytics start from the log's end when it (re)starts.
   */
  private endingsUnread = 0;

  constructor(private readonly q: RunSql) {}

  /** A new run's object: its table was just created, empty. */
  startEmpty(): void {
    this.cachedSeq = 0;
  }

  /** After a transaction that threw. */
  forget(): void {
    this.cachedSeq = undefined;
    this.pending = [];
  }

  append(type: EventType, at: number, stepId: string | null, data: Record<string, unknown>): number {
    if (ENDING_TYPES.has(type)) this.endingsUnread++;
    const seq = this.lastSeq() + 1;
    this.cachedSeq = seq;
    this.pending.push({ seq, type, step_id: stepId, occurred_at: at, data: json.write(data) });
    return seq;
  }

  /** At commit. */
  write(): void {
    if (this.pending.length === 0) return;
    insertMany(
      this.q.raw,
      "INSERT INTO event (seq, type, step_id, occurred_at, data)",
      5,
      this.pending.map((e) => [e.seq, e.type, e.step_id, e.occurred_at, e.data]),
    );
    this.pending = [];
  }

  lastSeq(): number {
    this.cachedSeq ??= this.q.aggregate<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM event").seq ?? 0;
    return this.cachedSeq;
  }

  after(after: number, limit: number): EventRow[] {
    return this.q.all<EventRow>("SELECT * FROM event WHERE seq > ? ORDER BY seq LIMIT ?", after, limit);
  }

  bySeq(seqs: readonly number[]): EventRow[] {
    return this.q.allIn<EventRow>("SELECT * FROM event WHERE seq IN (?)", seqs).sort((a, b) => a.seq - b.seq);
  }

  /**
   * Attempt and run endings logged after event `after`, with what analytics needs of each
   * (src/control/run/analytics.ts). Reads the event log, as every other consumer of it does.
   */
  endingsSince(after: number, limit: number, backlog = false, holdUnder = 0): EndingRow[] {
    // Most transactions end nothing (a dispatch, a start, a heartbeat): skip the query for them,
    // unless endings logged earlier are still to be read (`backlog`). With `holdUnder`, fewer
    // endings than that wait for a later read (the caller knows another transaction is coming).
    if (this.endingsUnread === 0 && !backlog) return [];
    if (!backlog && this.endingsUnread < holdUnder) return [];
    this.endingsUnread = 0;
    const bytes = this.q.tables.has("artifact")
      ? "(SELECT COALESCE(SUM(f.size), 0) FROM artifact f WHERE f.step_id = a.step_id AND f.attempt = a.attempt)"
      : "0";
    return this.q.all<EndingRow>(
      `SELECT e.seq, e.type, e.step_id, e.occurred_at, s.pool, s.type AS step_type,
         a.attempt, a.dispatched_at, a.started_at, a.finished_at, a.usage,
         json_extract(e.data, '$.error.code') AS error_code,
         ${bytes} AS artifact_bytes
       FROM event e
       LEFT JOIN step s ON s.id = e.step_id
       LEFT JOIN attempt a ON a.step_id = e.step_id AND a.attempt = json_extract(e.data, '$.attempt')
       WHERE e.seq > ? AND e.type IN (${ENDINGS.map((t) => `'${t}'`).join(",")}) ORDER BY e.seq LIMIT ?`,
      after,
      limit,
    );
  }
}
