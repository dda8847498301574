/**
 * A tenant's bulk operations on runs (issue 28): one Durable Object per tenant, apart from the
 * TenantObject (its load is its own: a call per run changed, and an alarm of its own).
 *
 * Beginning an operation snapshots the runs it names (the filter's matches, paged from the run
 * index across the tenant's shards, or the ids given) as rows, each pending. The alarm then
 * applies the action to a bounded batch of pending rows at a time, recording each run's outcome
 * as it comes; the pending rows are the cursor, so an operation cut short by a kill resumes where
 * it was. Each run's control is idempotent for the operation: a retry's new run id is chosen and
 * written before the retry is asked for (the run's retry is recorded once, under that id), and a
 * control already sent that finds its run changed counts as done, not as skipped.
 */
import { DurableObject } from "cloudflare:workers";
import { type BulkAction, type BulkBody, DEFAULT_MAX_BULK, type OperationView } from "../../../schema/operations";
import { refuse, type Refusal } from "../../../schema/errors";
import type { ControlActor } from "../../../schema/run";
import { filterFromBody, type RunFilter } from "../../../schema/search";
import type { Env } from "../../env";
import { newRunId, newTraceId } from "../../lib/crypto";
import { deleteRun } from "../delete-run";
import { runStub } from "../run/stub";
import { all, migratedSql, type Migration } from "../sqlite";

export const OPERATION_MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE operation (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, action TEXT NOT NULL, filter TEXT, reason TEXT,
       dry_run INTEGER NOT NULL, status TEXT NOT NULL, matched INTEGER NOT NULL, created_at INTEGER NOT NULL,
       updated_at INTEGER NOT NULL, finished_at INTEGER)`,
    `CREATE INDEX operation_running ON operation (status) WHERE status = 'running'`,
    // One row per run the operation names. state: pending | done | skipped | failed; sent: the
    // control was asked for (a redo after a kill then reads a changed run as its own doing).
    `CREATE TABLE operation_run (operation_id TEXT NOT NULL, seq INTEGER NOT NULL, run_id TEXT NOT NULL,
       state TEXT NOT NULL, reason TEXT, sent INTEGER NOT NULL DEFAULT 0, retry_id TEXT, tries INTEGER NOT NULL DEFAULT 0,
       PRIMARY KEY (operation_id, seq)) WITHOUT ROWID`,
    `CREATE INDEX operation_run_state ON operation_run (operation_id, state, seq)`,
  ],
];

/** Runs changed per alarm, and at once within it. */
export const BATCH = 40;
const PARALLEL = 8;
/** Calls to one run that may throw before its outcome is `failed`. */
const MAX_TRIES = 5;

interface OperationRow {
  id: string;
  tenant_id: string;
  action: BulkAction;
  filter: string | null;
  reason: string | null;
  dry_run: number;
  status: OperationView["status"];
  matched: number;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

interface RunRowOp {
  seq: number;
  run_id: string;
  sent: number;
  retry_id: string | null;
  tries: number;
}

type Outcome = { state: "done" | "skipped" | "failed"; reason: string | null };

export type BeginResult =
  | { ok: true; operation: OperationView }
  | Refusal<"operation.active" | "operation.too_many" | "request.invalid">;

const newOperationId = () => `op_${newRunId().slice(4)}`;

export class OperationsObject extends DurableObject<Env> {
  private readonly sql = migratedSql(this.ctx, OPERATION_MIGRATIONS);

  /** Begins an operation: snapshots the runs it names, then the alarm works through them. */
  async begin(tenantId: string, body: BulkBody, maxBulk = DEFAULT_MAX_BULK): Promise<BeginResult> {
    if (!body.dryRun && this.running()) return refuse("operation.active");
    let runIds: string[];
    if (body.ids) runIds = [...new Set(body.ids)];
    else {
      const parsed = filterFromBody(body.filter ?? {});
      if (!parsed.ok) return refuse("request.invalid", `filter.${parsed.path}: ${parsed.message}`);
      const found = await this.match(tenantId, parsed.filter, maxBulk);
      if (found === null)
        return refuse("operation.too_many", `the filter matches more than ${maxBulk} runs (limits.maxBulk)`);
      runIds = found;
    }
    // The matching took calls: another operation may have begun meanwhile (the object is not locked across them).
    if (!body.dryRun && this.running()) return refuse("operation.active");
    const id = newOperationId();
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        `INSERT INTO operation (id, tenant_id, action, filter, reason, dry_run, status, matched, created_at, updated_at, finished_at)
         VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
        id,
        tenantId,
        body.action,
        body.filter ? JSON.stringify(body.filter) : null,
        body.reason ?? null,
        body.dryRun ? 1 : 0,
        body.dryRun || runIds.length === 0 ? "succeeded" : "running",
        runIds.length,
        now,
        now,
        body.dryRun || runIds.length === 0 ? now : null,
      );
      if (!body.dryRun)
        for (const [seq, runId] of runIds.entries())
          this.sql.exec(
            "INSERT INTO operation_run (operation_id, seq, run_id, state) VALUES (?,?,?,'pending')",
            id,
            seq,
            runId,
          );
    });
    if (!body.dryRun && runIds.length > 0) await this.ctx.storage.setAlarm(Date.now());
    return { ok: true, operation: this.view(id, tenantId) as OperationView };
  }

  /** The operation, if it is this tenant's. A running one whose alarm was lost is woken. */
  async get(tenantId: string, id: string): Promise<OperationView | null> {
    const view = this.view(id, tenantId);
    if (view?.status === "running" && (await this.ctx.storage.getAlarm()) === null)
      await this.ctx.storage.setAlarm(Date.now());
    return view;
  }

  /** Stops a running operation: runs not yet changed stay as they are (pending). */
  async stop(tenantId: string, id: string): Promise<OperationView | null> {
    const now = Date.now();
    this.sql.exec(
      "UPDATE operation SET status = 'stopped', updated_at = ?, finished_at = ? WHERE id = ? AND tenant_id = ? AND status = 'running'",
      now,
      now,
      id,
      tenantId,
    );
    return this.view(id, tenantId);
  }

  override async alarm(): Promise<void> {
    const op = all<OperationRow>(this.sql, "SELECT * FROM operation WHERE status = 'running' LIMIT 1")[0];
    if (!op) return;
    const batch = all<RunRowOp>(
      this.sql,
      "SELECT seq, run_id, sent, retry_id, tries FROM operation_run WHERE operation_id = ? AND state = 'pending' ORDER BY seq LIMIT ?",
      op.id,
      BATCH,
    );
    for (let i = 0; i < batch.length; i += PARALLEL) {
      await Promise.all(batch.slice(i, i + PARALLEL).map((r) => this.applyOne(op, r)));
      // A stop between groups is heeded at once.
      if (!this.isRunning(op.id)) return;
    }
    const left = all(
      this.sql,
      "SELECT 1 FROM operation_run WHERE operation_id = ? AND state = 'pending' LIMIT 1",
      op.id,
    ).length;
    const now = Date.now();
    if (left > 0) {
      this.sql.exec("UPDATE operation SET updated_at = ? WHERE id = ?", now, op.id);
      await this.ctx.storage.setAlarm(now);
    } else
      this.sql.exec(
        "UPDATE operation SET status = 'succeeded', updated_at = ?, finished_at = ? WHERE id = ? AND status = 'running'",
        now,
        now,
        op.id,
      );
  }

  /** Applies the action to one run and records its outcome (a throw is retried by the next alarm, up to a point). */
  private async applyOne(op: OperationRow, r: RunRowOp): Promise<void> {
    const actor: ControlActor = `operation:${op.id}`;
    let retryId = r.retry_id;
    if (op.action === "retry" && retryId === null) {
      retryId = newRunId();
      this.sql.exec("UPDATE operation_run SET retry_id = ? WHERE operation_id = ? AND seq = ?", retryId, op.id, r.seq);
    }
    const wasSent = r.sent === 1;
    this.sql.exec("UPDATE operation_run SET sent = 1 WHERE operation_id = ? AND seq = ?", op.id, r.seq);
    let outcome: Outcome;
    try {
      outcome = await this.control(op, r.run_id, actor, wasSent, retryId);
    } catch (err) {
      // A call that threw may have been done or not: the next alarm asks again (idempotent), a few times.
      const tries = r.tries + 1;
      this.sql.exec("UPDATE operation_run SET tries = ? WHERE operation_id = ? AND seq = ?", tries, op.id, r.seq);
      if (tries < MAX_TRIES) return;
      outcome = { state: "failed", reason: err instanceof Error ? err.message.slice(0, 200) : "error" };
    }
    this.sql.exec(
      "UPDATE operation_run SET state = ?, reason = ? WHERE operation_id = ? AND seq = ? AND state = 'pending'",
      outcome.state,
      outcome.reason,
      op.id,
      r.seq,
    );
  }

  private async control(
    op: OperationRow,
    runId: string,
    actor: ControlActor,
    wasSent: boolean,
    retryId: string | null,
  ): Promise<Outcome> {
    const tenantId = op.tenant_id;
    const done: Outcome = { state: "done", reason: null };
    const skipped = (reason: string): Outcome => ({ state: "skipped", reason });
    if (op.action === "delete") {
      const result = await deleteRun(this.env, tenantId, runId);
      if (result === "deleted") return done;
      // Deleted by this operation's earlier try (a kill came before its outcome was written).
      if (result === "missing") return wasSent ? done : skipped("run.not_found");
      return skipped(result.code);
    }
    const run = runStub(this.env, runId);
    if (op.action === "cancel") {
      const result = await run.control(tenantId, "cancel", actor);
      if (!result) return skipped("run.not_found");
      if (result.ok) return done;
      const now = wasSent ? await run.get(tenantId) : null;
      return now?.status === "cancelled" ? done : skipped(result.code);
    }
    const source = await run.retrySource(tenantId, retryId ?? newRunId(), actor);
    if (!source) return skipped("run.not_found");
    if (!source.ok) return skipped(source.code);
    // Retried before, by someone else: this operation does not retry it again.
    if (source.existing !== null && source.existing !== retryId) return skipped("run.already_retried");
    const id = retryId ?? source.existing ?? newRunId();
    await runStub(this.env, id).create({
      ...source.spec,
      id,
      requestedBy: `operation:${op.id}`,
      traceId: newTraceId(),
    });
    return done;
  }

  /** The filter's runs, newest first across the tenant's shards; null when more than `max` match. */
  private async match(tenantId: string, filter: RunFilter, max: number): Promise<string[] | null> {
    const tenant = this.env.TENANT.getByName(tenantId);
    const ids: string[] = [];
    let cursor: { createdAt: number; runId: string } | undefined;
    for (;;) {
      const page = await tenant.listRuns({ filter, limit: 1000, ...(cursor ? { cursor } : {}) });
      ids.push(...page.items.map((r) => r.id));
      if (ids.length > max) return null;
      if (!page.next) return ids;
      cursor = page.next;
    }
  }

  private running(): boolean {
    return all(this.sql, "SELECT 1 FROM operation WHERE status = 'running' LIMIT 1").length > 0;
  }

  private isRunning(id: string): boolean {
    return all(this.sql, "SELECT 1 FROM operation WHERE id = ? AND status = 'running'", id).length > 0;
  }

  private view(id: string, tenantId: string): OperationView | null {
    const op = all<OperationRow>(this.sql, "SELECT * FROM operation WHERE id = ? AND tenant_id = ?", id, tenantId)[0];
    if (!op) return null;
    const counts = all<{ state: string; reason: string | null; n: number }>(
      this.sql,
      "SELECT state, reason, COUNT(*) AS n FROM operation_run WHERE operation_id = ? GROUP BY state, reason",
      id,
    );
    const sum = (state: string) => counts.filter((c) => c.state === state).reduce((s, c) => s + c.n, 0);
    const iso = (t: number) => new Date(t).toISOString();
    return {
      id: op.id,
      action: op.action,
      status: op.status,
      dryRun: op.dry_run === 1,
      reason: op.reason,
      filter: op.filter ? JSON.parse(op.filter) : null,
      matched: op.matched,
      done: sum("done"),
      skipped: sum("skipped"),
      skippedReasons: Object.fromEntries(
        counts.filter((c) => c.state === "skipped").map((c) => [c.reason ?? "unknown", c.n]),
      ),
      failed: sum("failed"),
      pending: sum("pending"),
      createdAt: iso(op.created_at),
      updatedAt: iso(op.updated_at),
      finishedAt: op.finished_at === null ? null : iso(op.finished_at),
    };
  }
}
