/**
 * The Tenant Durable Object: one per tenant, addressed by tenant id. Holds the tenant's run
 * index (for listing), idempotency keys, and API key hashes. Nothing here is global: a key
 * names its tenant, so authentication never goes through a shared object.
 */
import { DurableObject } from "cloudflare:workers";
import type { RunSummary } from "../../../schema/api";
import type { RunStatus } from "../../../schema/vocabulary";
import type { Env } from "../../env";
import { newKeyId, newSecret, sha256Hex, timingSafeEqualHex } from "../../lib/crypto";
import { formatApiKey } from "../../lib/keys";
import type { TenantSync } from "../run/types";
import type { CreateWebhookBody, Delivery, UpdateWebhookBody } from "../../../schema/webhooks";
import { deliveryPolicy } from "../../webhooks/config";
import { WEBHOOK_MIGRATION, WebhookBook, type AttemptResult, type DeliveryTask } from "./webhooks";
import { migrate, type Migration } from "../sqlite";

const MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE run_index (
      run_id TEXT PRIMARY KEY, project TEXT NOT NULL, blueprint TEXT, status TEXT NOT NULL,
      version INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`,
    `CREATE INDEX run_index_created ON run_index (created_at DESC, run_id DESC)`,
    `CREATE TABLE idempotency (
      key TEXT PRIMARY KEY, body_hash TEXT NOT NULL, run_id TEXT NOT NULL, created_at INTEGER NOT NULL)`,
    `CREATE TABLE api_key (
      id TEXT PRIMARY KEY, hash TEXT NOT NULL, name TEXT, created_at INTEGER NOT NULL, revoked_at INTEGER)`,
  ],
  WEBHOOK_MIGRATION,
];

export interface ListRunsFilter {
  project?: string;
  status?: RunStatus;
  /** Opaque position from a previous page. */
  cursor?: { createdAt: number; runId: string };
  limit: number;
}

export type IdempotencyClaim = { ok: true; runId: string; replayed: boolean } | { ok: false; code: string; message: string };

interface IndexRow {
  run_id: string;
  project: string;
  blueprint: string | null;
  status: RunStatus;
  created_at: number;
  updated_at: number;
}

export class TenantObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly webhooks: WebhookBook;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.webhooks = new WebhookBook(this.sql);
    ctx.blockConcurrencyWhile(async () => {
      migrate(this.sql, MIGRATIONS);
    });
  }

  // ── webhooks ────────────────────────────────────────────────────────────────

  async createWebhook(body: CreateWebhookBody, runId: string | null = null) {
    return this.webhooks.create(body, Date.now(), runId);
  }

  async listWebhooks() {
    return this.webhooks.list(Date.now());
  }

  async getWebhook(id: string) {
    return this.webhooks.get(id, Date.now());
  }

  async updateWebhook(id: string, patch: UpdateWebhookBody) {
    return this.webhooks.update(id, patch, Date.now());
  }

  async deleteWebhook(id: string) {
    const removed = this.webhooks.remove(id);
    await this.syncAlarm();
    return removed;
  }

  async rotateWebhookSecret(id: string, overlapMs: number) {
    return this.webhooks.rotate(id, overlapMs, Date.now());
  }

  async webhookDeliveries(id: string, q: { status?: Delivery["status"]; eventId?: string; limit: number }) {
    return this.webhooks.deliveries(id, q);
  }

  /** Makes deliveries pending again; the alarm sends them at once. */
  async replayWebhook(id: string, which: { deliveryId: string } | { failedSince: number }) {
    const ids = this.webhooks.replay(id, which, Date.now());
    await this.syncAlarm();
    return ids;
  }

  /** Called by the webhooks consumer with a run's new events: the attempts to make now. */
  async planDeliveries(events: { eventId: string; type: string; runId: string; projectId: string }[]): Promise<DeliveryTask[]> {
    const tasks = this.webhooks.plan(events, Date.now(), deliveryPolicy(this.env));
    await this.syncAlarm();
    return tasks;
  }

  async deliveryTask(deliveryId: string): Promise<DeliveryTask | null> {
    const task = this.webhooks.task(deliveryId, Date.now(), deliveryPolicy(this.env));
    await this.syncAlarm();
    return task;
  }

  async recordDelivery(deliveryId: string, result: AttemptResult): Promise<void> {
    this.webhooks.record(deliveryId, result, Date.now(), deliveryPolicy(this.env));
    await this.syncAlarm();
  }

  /** Due retries (and attempts whose worker vanished) go back on the webhooks queue. */
  override async alarm(): Promise<void> {
    const tenantId = this.ctx.id.name;
    const due = this.webhooks.due(Date.now(), deliveryPolicy(this.env));
    if (tenantId && due.length > 0) {
      await this.env.QUEUE_WEBHOOKS.sendBatch(due.map((deliveryId) => ({ body: { kind: "delivery" as const, tenantId, deliveryId }, contentType: "json" as const })));
    }
    await this.syncAlarm();
  }

  private async syncAlarm(): Promise<void> {
    const next = this.webhooks.nextDue();
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  /** Follows a run's status; older updates (by event sequence) are ignored. */
  async recordRun(sync: TenantSync): Promise<void> {
    this.sql.exec(
      `INSERT INTO run_index (run_id, project, blueprint, status, version, created_at, updated_at) VALUES (?,?,?,?,?,?,?)
       ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, version = excluded.version, updated_at = excluded.updated_at
       WHERE excluded.version > run_index.version`,
      sync.runId, sync.project, sync.blueprint, sync.status, sync.version, sync.createdAt, sync.at,
    );
  }

  async listRuns(filter: ListRunsFilter): Promise<{ items: RunSummary[]; next: { createdAt: number; runId: string } | null }> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.project) (where.push("project = ?"), params.push(filter.project));
    if (filter.status) (where.push("status = ?"), params.push(filter.status));
    if (filter.cursor) {
      where.push("(created_at < ? OR (created_at = ? AND run_id < ?))");
      params.push(filter.cursor.createdAt, filter.cursor.createdAt, filter.cursor.runId);
    }
    const rows = this.sql
      .exec<Record<string, SqlStorageValue>>(
        `SELECT * FROM run_index ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, run_id DESC LIMIT ?`,
        ...params,
        filter.limit + 1,
      )
      .toArray() as unknown as IndexRow[];
    const page = rows.slice(0, filter.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => ({
        id: r.run_id,
        project: r.project,
        blueprint: r.blueprint,
        status: r.status,
        createdAt: new Date(r.created_at).toISOString(),
        updatedAt: new Date(r.updated_at).toISOString(),
      })),
      next: rows.length > filter.limit && last ? { createdAt: last.created_at, runId: last.run_id } : null,
    };
  }

  /**
   * Binds an Idempotency-Key to a run id. The same key with the same body hash returns the
   * first run's id; with another body it is a conflict.
   */
  async claimIdempotency(key: string, bodyHash: string, candidateRunId: string): Promise<IdempotencyClaim> {
    const existing = this.sql
      .exec<{ body_hash: string; run_id: string }>("SELECT body_hash, run_id FROM idempotency WHERE key = ?", key)
      .toArray()[0];
    if (existing) {
      if (existing.body_hash !== bodyHash) {
        return { ok: false, code: "idempotency.conflict", message: "this Idempotency-Key was used with a different body" };
      }
      return { ok: true, runId: existing.run_id, replayed: true };
    }
    this.sql.exec(
      "INSERT INTO idempotency (key, body_hash, run_id, created_at) VALUES (?, ?, ?, ?)",
      key, bodyHash, candidateRunId, Date.now(),
    );
    return { ok: true, runId: candidateRunId, replayed: false };
  }

  /** Creates an API key; the plaintext is returned once and only its hash is kept. */
  async createKey(tenantId: string, name: string | null): Promise<{ id: string; key: string; createdAt: number }> {
    const id = newKeyId();
    const secret = newSecret();
    const createdAt = Date.now();
    this.sql.exec(
      "INSERT INTO api_key (id, hash, name, created_at) VALUES (?, ?, ?, ?)",
      id, await sha256Hex(secret), name, createdAt,
    );
    return { id, key: formatApiKey({ tenantId, keyId: id, secret }), createdAt };
  }

  /** True when the key id exists, is not revoked, and the secret's hash matches (constant time). */
  async authenticate(keyId: string, secretHash: string): Promise<boolean> {
    const row = this.sql
      .exec<{ hash: string; revoked_at: number | null }>("SELECT hash, revoked_at FROM api_key WHERE id = ?", keyId)
      .toArray()[0];
    if (!row || row.revoked_at !== null) return false;
    return timingSafeEqualHex(row.hash, secretHash);
  }
}
