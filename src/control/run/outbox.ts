/** Sending the Run DO's outbox: step dispatches to pool queues, run status to the tenant. */
import type { PoolName } from "../../../schema/vocabulary";
import type { Env } from "../../env";
import { queueFor } from "../../data/pools";
import type { StepMessage } from "../../../schema/messages";
import type { TenantSync } from "./types";
import type { OutboxRow, RunStore } from "./store";
import { eventView } from "./views";
import { logError } from "../../lib/log";

/** Queue limits per sendBatch: 100 messages and 256 KB (kept under, for headers). */
export const BATCH_LIMITS = { maxMessages: 100, maxBytes: 240_000 } as const;

/** Splits rows into batches no queue will refuse. Pure; `bytes` measures one row. */
export function chunkBatches<T>(
  rows: readonly T[],
  bytes: (row: T) => number,
  limits: { maxMessages: number; maxBytes: number } = BATCH_LIMITS,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const row of rows) {
    const n = bytes(row);
    if (current.length > 0 && (current.length >= limits.maxMessages || size + n > limits.maxBytes)) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(row);
    size += n;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Sends what the outbox holds and deletes each row once its send succeeded.
 * Returns false when something is left for the alarm to retry.
 */
export async function sendOutbox(store: RunStore, env: Env, tenantId: string, onAdmitted: () => void): Promise<boolean> {
  const rows = store.outbox();
  if (rows.length === 0) return true;
  let complete = true;
  const run = store.run()!;
  const ids = { tenantId, runId: run.id, traceId: run.trace_id };

  const byPool = new Map<PoolName, OutboxRow[]>();
  const tenantRows: OutboxRow[] = [];
  const webhookRows: OutboxRow[] = [];
  for (const row of rows) {
    if (row.kind === "tenant") tenantRows.push(row);
    else if (row.kind === "webhook") webhookRows.push(row);
    else if (row.pool) byPool.set(row.pool, [...(byPool.get(row.pool) ?? []), row]);
  }

  if (webhookRows.length > 0) {
    const envelopes = store.eventsBySeq(webhookRows.map((r) => JSON.parse(r.body) as number)).map((e) => eventView(run, e));
    try {
      // Up to 50 events per message keeps each message far below the queue's size limit.
      const messages = chunkBatches(envelopes, () => 1, { maxMessages: 50, maxBytes: Infinity }).map((events) => ({
        body: { kind: "events" as const, tenantId, events },
        contentType: "json" as const,
      }));
      for (const batch of chunkBatches(messages, (m) => JSON.stringify(m.body).length)) await env.QUEUE_WEBHOOKS.sendBatch(batch);
      store.deleteOutbox(webhookRows.map((r) => r.id));
    } catch (err) {
      logError("outbox.webhook_failed", { ...ids, count: webhookRows.length, error: String(err) });
      complete = false;
    }
  }

  for (const [pool, poolRows] of byPool) {
    for (const batch of chunkBatches(poolRows, (r) => r.body.length + 64)) {
      try {
        const messages = batch.map((r) => JSON.parse(r.body) as StepMessage);
        const queue = queueFor(env, pool);
        if (queue) await queue.sendBatch(messages.map((body) => ({ body, contentType: "json" as const })));
        else await env.POOL.getByName(pool).offer(messages);
        store.deleteOutbox(batch.map((r) => r.id));
      } catch (err) {
        logError("outbox.dispatch_failed", { ...ids, pool, count: batch.length, error: String(err) });
        complete = false;
      }
    }
  }

  if (tenantRows.length > 0) {
    // Only the newest status matters; the tenant ignores anything older than what it has.
    const latest = tenantRows.reduce((a, b) => (a.id > b.id ? a : b));
    try {
      const answer = await env.TENANT.getByName(tenantId).recordRun(JSON.parse(latest.body) as TenantSync);
      if (answer.start) onAdmitted();
      store.deleteOutbox(tenantRows.map((r) => r.id));
    } catch (err) {
      logError("outbox.tenant_sync_failed", { ...ids, error: String(err) });
      complete = false;
    }
  }
  return complete;
}
