/**
 * A tenant's webhook endpoints, deliveries and their attempts, in the tenant object's SQLite.
 * Every pending delivery has a timer row (its next attempt, or a safety lease while an attempt
 * is out), so a delivery whose worker died is tried again and none is ever forgotten.
 */
import type {
  AttemptResult,
  CreateWebhookBody,
  Delivery,
  DeliveryPolicy,
  DeliveryTask,
  UpdateWebhookBody,
  WebhookEndpoint,
} from "../../../schema/webhooks";
import { newKeyId } from "../../lib/crypto";
import { must } from "../../lib/must";
import { matchesEventType, retryDelay, shouldDisable } from "../../webhooks/policy";
import { newSigningSecret } from "../../webhooks/sign";
import { all, json, one } from "../sqlite";
import type { WebhookStats } from "../metrics";

export const WEBHOOK_MIGRATION = [
  `CREATE TABLE webhook_endpoint (
    id TEXT PRIMARY KEY, url TEXT NOT NULL, event_types TEXT NOT NULL, project TEXT, run_id TEXT, description TEXT,
    secret TEXT NOT NULL, prev_secret TEXT, prev_expires_at INTEGER,
    status TEXT NOT NULL, disabled_reason TEXT, streak INTEGER NOT NULL DEFAULT 0, streak_started_at INTEGER,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`,
  `CREATE TABLE webhook_delivery (
    id TEXT PRIMARY KEY, endpoint_id TEXT NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL,
    run_id TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL, failures INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER, created_at INTEGER NOT NULL, UNIQUE (endpoint_id, event_id))`,
  `CREATE INDEX webhook_delivery_endpoint ON webhook_delivery (endpoint_id, created_at DESC)`,
  `CREATE TABLE webhook_attempt (
    delivery_id TEXT NOT NULL, n INTEGER NOT NULL, at INTEGER NOT NULL, status_code INTEGER,
    latency_ms INTEGER NOT NULL, excerpt TEXT, error TEXT, PRIMARY KEY (delivery_id, n))`,
  `CREATE TABLE webhook_timer (delivery_id TEXT PRIMARY KEY, due_at INTEGER NOT NULL)`,
  `CREATE INDEX webhook_timer_due ON webhook_timer (due_at)`,
  `CREATE TABLE tenant_event (seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, at INTEGER NOT NULL, data TEXT NOT NULL)`,
];

/** The key (holding approvals:grant) that flagged an endpoint to receive decision links; null: none. */
export const WEBHOOK_LINKS_MIGRATION = [`ALTER TABLE webhook_endpoint ADD COLUMN links_by TEXT`];

/** What planning needs of an event; the whole envelope, as handed over, is the delivery's payload. */
export interface PlannedEvent {
  eventId: string;
  type: string;
  runId: string;
  projectId: string;
}

/** One delivery attempt to make now. */
export interface RecordedAttempt {
  endpointId: string;
  eventType: string;
  attempt: number;
  outcome: "delivered" | "retrying" | "failed";
}

interface EndpointRow {
  id: string;
  url: string;
  event_types: string;
  project: string | null;
  run_id: string | null;
  description: string | null;
  secret: string;
  prev_secret: string | null;
  prev_expires_at: number | null;
  status: "active" | "disabled";
  disabled_reason: string | null;
  streak: number;
  streak_started_at: number | null;
  created_at: number;
  updated_at: number;
  links_by: string | null;
}

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  run_id: string;
  payload: string;
  status: Delivery["status"];
  failures: number;
  next_attempt_at: number | null;
  created_at: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class WebhookBook {
  /**
   * Whether any endpoint is active, once known. Only false is acted on, so it is dropped
   * whenever an endpoint is created or changed (which can make one active) and re-read.
   */
  private hasActive: boolean | undefined;

  constructor(private readonly sql: SqlStorage) {}

  private endpointRow(id: string): EndpointRow | null {
    return one<EndpointRow>(this.sql, "SELECT * FROM webhook_endpoint WHERE id = ?", id);
  }

  /** A tenant-wide endpoint, or with `runId` a run's own callback that hears only that run. */
  create(
    body: CreateWebhookBody,
    now: number,
    runId: string | null = null,
    keyId: string | null = null,
  ): { endpoint: WebhookEndpoint; secret: string } {
    const id = `wh_${newKeyId()}`;
    const secret = newSigningSecret();
    this.hasActive = undefined;
    this.sql.exec(
      `INSERT INTO webhook_endpoint (id, url, event_types, project, run_id, description, secret, status, created_at, updated_at, links_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)`,
      id,
      body.url,
      json.write(body.eventTypes),
      body.project ?? null,
      runId,
      body.description ?? null,
      secret,
      now,
      now,
      body.includeDecisionLinks ? keyId : null,
    );
    return { endpoint: must(this.get(id, now), "the webhook endpoint just inserted"), secret };
  }

  list(now: number): WebhookEndpoint[] {
    return all<EndpointRow>(this.sql, "SELECT * FROM webhook_endpoint ORDER BY created_at").map((r) => view(r, now));
  }

  get(id: string, now: number): WebhookEndpoint | null {
    const row = this.endpointRow(id);
    return row ? view(row, now) : null;
  }

  update(id: string, patch: UpdateWebhookBody, now: number, keyId: string | null = null): WebhookEndpoint | null {
    const row = this.endpointRow(id);
    if (!row) return null;
    const enable =
      patch.enabled === true ? { status: "active", disabled_reason: null, streak: 0, streak_started_at: null } : {};
    const disable = patch.enabled === false ? { status: "disabled", disabled_reason: "disabled by the tenant" } : {};
    const next = {
      url: patch.url ?? row.url,
      event_types: patch.eventTypes ? json.write(patch.eventTypes) : row.event_types,
      project: patch.project === undefined ? row.project : patch.project,
      description: patch.description === undefined ? row.description : patch.description,
      status: row.status,
      disabled_reason: row.disabled_reason,
      streak: row.streak,
      streak_started_at: row.streak_started_at,
      links_by: patch.includeDecisionLinks === undefined ? row.links_by : patch.includeDecisionLinks ? keyId : null,
      ...enable,
      ...disable,
    };
    this.sql.exec(
      `UPDATE webhook_endpoint SET url = ?, event_types = ?, project = ?, description = ?, status = ?, disabled_reason = ?,
       streak = ?, streak_started_at = ?, links_by = ?, updated_at = ? WHERE id = ?`,
      next.url,
      next.event_types,
      next.project,
      next.description,
      next.status,
      next.disabled_reason,
      next.streak,
      next.streak_started_at,
      next.links_by,
      now,
      id,
    );
    this.hasActive = undefined;
    return this.get(id, now);
  }

  remove(id: string): boolean {
    if (!this.endpointRow(id)) return false;
    this.sql.exec(
      "DELETE FROM webhook_timer WHERE delivery_id IN (SELECT id FROM webhook_delivery WHERE endpoint_id = ?)",
      id,
    );
    this.sql.exec(
      "DELETE FROM webhook_attempt WHERE delivery_id IN (SELECT id FROM webhook_delivery WHERE endpoint_id = ?)",
      id,
    );
    this.sql.exec("DELETE FROM webhook_delivery WHERE endpoint_id = ?", id);
    this.sql.exec("DELETE FROM webhook_endpoint WHERE id = ?", id);
    return true;
  }

  /** A new secret; the old one keeps signing for `overlapMs` so receivers can switch over. */
  rotate(id: string, overlapMs: number, now: number): { endpoint: WebhookEndpoint; secret: string } | null {
    const row = this.endpointRow(id);
    if (!row) return null;
    const secret = newSigningSecret();
    this.sql.exec(
      "UPDATE webhook_endpoint SET prev_secret = secret, prev_expires_at = ?, secret = ?, updated_at = ? WHERE id = ?",
      now + overlapMs,
      secret,
      now,
      id,
    );
    return { endpoint: must(this.get(id, now), "the webhook endpoint just rotated"), secret };
  }

  /**
   * Fans events out to the active endpoints that want them: a delivery each, with a timer due
   * `now`. Idempotent per (endpoint, event), so events handed over twice plan nothing twice.
   * Returns the deliveries it created.
   */
  accept(events: readonly PlannedEvent[], now: number): string[] {
    // Most tenants have no endpoint, yet every run's events come here: answer them from memory.
    if (this.hasActive === false) return [];
    const endpoints = all<EndpointRow>(this.sql, "SELECT * FROM webhook_endpoint WHERE status = 'active'");
    this.hasActive = endpoints.length > 0;
    const created: string[] = [];
    for (const event of events) {
      for (const e of endpoints) {
        if (e.project && e.project !== event.projectId) continue;
        if (e.run_id && e.run_id !== event.runId) continue;
        if (!matchesEventType(json.read<string[]>(e.event_types) ?? [], event.type)) continue;
        const id = `dlv_${newKeyId()}${newKeyId()}`;
        const inserted = this.sql.exec(
          `INSERT INTO webhook_delivery (id, endpoint_id, event_id, event_type, run_id, payload, status, next_attempt_at, created_at)
           VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (endpoint_id, event_id) DO NOTHING`,
          id,
          e.id,
          event.eventId,
          event.type,
          event.runId,
          JSON.stringify(event),
          now,
          now,
        ).rowsWritten;
        if (inserted > 0) {
          created.push(id);
          this.setTimer(id, now);
        }
      }
    }
    return created;
  }

  /** As `accept`, returning the attempts to make now instead (each leased while it is out). */
  plan(events: readonly PlannedEvent[], now: number, policy: DeliveryPolicy): DeliveryTask[] {
    return this.accept(events, now).flatMap((id) => this.task(id, now, policy) ?? []);
  }

  /** The attempt to make for a pending delivery, with a safety lease while it is out. */
  task(deliveryId: string, now: number, policy: DeliveryPolicy): DeliveryTask | null {
    const d = all<DeliveryRow>(this.sql, "SELECT * FROM webhook_delivery WHERE id = ?", deliveryId)[0];
    if (d?.status !== "pending") return null;
    const e = this.endpointRow(d.endpoint_id);
    if (e?.status !== "active") return null;
    this.setTimer(deliveryId, now + policy.inFlightMs);
    const secrets = [e.secret, ...(e.prev_secret && (e.prev_expires_at ?? 0) > now ? [e.prev_secret] : [])];
    return {
      deliveryId,
      eventId: d.event_id,
      url: e.url,
      payload: d.payload,
      secrets,
      ...(e.links_by && d.event_type === "step.waiting" ? { linksFor: e.links_by } : {}),
    };
  }

  /** Records an attempt: success ends the delivery; failure schedules the next or gives up. */
  /** Records an attempt's result and decides what next; says what happened, for analytics. */
  record(deliveryId: string, result: AttemptResult, now: number, policy: DeliveryPolicy): RecordedAttempt | null {
    const d = all<DeliveryRow>(this.sql, "SELECT * FROM webhook_delivery WHERE id = ?", deliveryId)[0];
    if (!d) return null;
    const n =
      (all<{ n: number | null }>(
        this.sql,
        "SELECT MAX(n) AS n FROM webhook_attempt WHERE delivery_id = ?",
        deliveryId,
      )[0]?.n ?? 0) + 1;
    this.sql.exec(
      "INSERT INTO webhook_attempt (delivery_id, n, at, status_code, latency_ms, excerpt, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
      deliveryId,
      n,
      now,
      result.statusCode,
      result.latencyMs,
      result.excerpt,
      result.error,
    );
    const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    if (ok) {
      this.sql.exec(
        "UPDATE webhook_delivery SET status = 'succeeded', next_attempt_at = NULL WHERE id = ?",
        deliveryId,
      );
      this.sql.exec("UPDATE webhook_endpoint SET streak = 0, streak_started_at = NULL WHERE id = ?", d.endpoint_id);
      this.clearTimer(deliveryId);
      return { endpointId: d.endpoint_id, eventType: d.event_type, attempt: n, outcome: "delivered" };
    }
    const failures = d.failures + 1;
    const delay = retryDelay(failures, policy.schedule, result.retryAfterMs);
    if (delay === null) {
      this.sql.exec(
        "UPDATE webhook_delivery SET status = 'failed', failures = ?, next_attempt_at = NULL WHERE id = ?",
        failures,
        deliveryId,
      );
      this.clearTimer(deliveryId);
    } else {
      this.sql.exec(
        "UPDATE webhook_delivery SET failures = ?, next_attempt_at = ? WHERE id = ?",
        failures,
        now + delay,
        deliveryId,
      );
      this.setTimer(deliveryId, now + delay);
    }
    this.sql.exec(
      "UPDATE webhook_endpoint SET streak = streak + 1, streak_started_at = COALESCE(streak_started_at, ?) WHERE id = ?",
      now,
      d.endpoint_id,
    );
    const e = this.endpointRow(d.endpoint_id);
    const since = e?.streak_started_at ?? null; // set just above; shouldDisable is false without it
    if (e && e.status === "active" && since !== null && shouldDisable(e.streak, since, now, policy.disable)) {
      const reason = `${e.streak} consecutive failed attempts since ${new Date(since).toISOString()}`;
      this.sql.exec(
        "UPDATE webhook_endpoint SET status = 'disabled', disabled_reason = ?, updated_at = ? WHERE id = ?",
        reason,
        now,
        e.id,
      );
      this.sql.exec(
        "INSERT INTO tenant_event (type, at, data) VALUES ('webhook.endpoint_disabled', ?, ?)",
        now,
        json.write({ endpointId: e.id, url: e.url, reason }),
      );
    }
    return {
      endpointId: d.endpoint_id,
      eventType: d.event_type,
      attempt: n,
      outcome: delay === null ? "failed" : "retrying",
    };
  }

  /** Deliveries created in [from, to) by status, and their attempts' success. */
  stats(from: number, to: number): WebhookStats {
    const d = all<{ succeeded: number | null; failed: number | null; pending: number | null }>(
      this.sql,
      `SELECT SUM(status = 'succeeded') AS succeeded, SUM(status = 'failed') AS failed, SUM(status = 'pending') AS pending
       FROM webhook_delivery WHERE created_at >= ? AND created_at < ?`,
      from,
      to,
    )[0];
    const a = all<{ attempts: number; ok: number | null }>(
      this.sql,
      `SELECT COUNT(*) AS attempts, SUM(status_code >= 200 AND status_code < 300) AS ok
       FROM webhook_attempt a JOIN webhook_delivery d ON d.id = a.delivery_id WHERE d.created_at >= ? AND d.created_at < ?`,
      from,
      to,
    )[0];
    return {
      succeeded: d?.succeeded ?? 0,
      failed: d?.failed ?? 0,
      pending: d?.pending ?? 0,
      attempts: a?.attempts ?? 0,
      attemptsOk: a?.ok ?? 0,
    };
  }

  deliveries(
    endpointId: string,
    q: { status?: Delivery["status"]; eventId?: string; limit: number },
  ): Delivery[] | null {
    if (!this.endpointRow(endpointId)) return null;
    const rows = all<DeliveryRow>(
      this.sql,
      `SELECT * FROM webhook_delivery WHERE endpoint_id = ? AND (? IS NULL OR status = ?) AND (? IS NULL OR event_id = ?)
       ORDER BY created_at DESC, id LIMIT ?`,
      endpointId,
      q.status ?? null,
      q.status ?? null,
      q.eventId ?? null,
      q.eventId ?? null,
      q.limit,
    );
    return rows.map((d) => ({
      id: d.id,
      endpointId: d.endpoint_id,
      eventId: d.event_id,
      eventType: d.event_type,
      runId: d.run_id,
      status: d.status,
      nextAttemptAt: iso(d.next_attempt_at),
      createdAt: new Date(d.created_at).toISOString(),
      attempts: all<{
        n: number;
        at: number;
        status_code: number | null;
        latency_ms: number;
        excerpt: string | null;
        error: string | null;
      }>(this.sql, "SELECT * FROM webhook_attempt WHERE delivery_id = ? ORDER BY n", d.id).map((a) => ({
        n: a.n,
        at: new Date(a.at).toISOString(),
        statusCode: a.status_code,
        latencyMs: a.latency_ms,
        excerpt: a.excerpt,
        error: a.error,
      })),
    }));
  }

  /** Makes deliveries of this endpoint pending again (one, or every failed one since a time). */
  replay(endpointId: string, which: { deliveryId: string } | { failedSince: number }, now: number): string[] | null {
    if (!this.endpointRow(endpointId)) return null;
    const ids =
      "deliveryId" in which
        ? all<{ id: string }>(
            this.sql,
            "SELECT id FROM webhook_delivery WHERE endpoint_id = ? AND id = ?",
            endpointId,
            which.deliveryId,
          )
        : all<{ id: string }>(
            this.sql,
            "SELECT id FROM webhook_delivery WHERE endpoint_id = ? AND status = 'failed' AND created_at >= ?",
            endpointId,
            which.failedSince,
          );
    for (const { id } of ids) {
      this.sql.exec(
        "UPDATE webhook_delivery SET status = 'pending', failures = 0, next_attempt_at = ? WHERE id = ?",
        now,
        id,
      );
      this.setTimer(id, now);
    }
    return ids.map((r) => r.id);
  }

  /** Deliveries whose timer is due, oldest first. Moves nothing: see `leaseSent`. */
  due(now: number, limit = 500): string[] {
    return all<{ delivery_id: string }>(
      this.sql,
      "SELECT delivery_id FROM webhook_timer WHERE due_at <= ? ORDER BY due_at LIMIT ?",
      now,
      limit,
    ).map((r) => r.delivery_id);
  }

  /** Deliveries put on the queue: their timers move forward by a lease until their attempt is recorded. */
  leaseSent(deliveryIds: readonly string[], now: number, policy: DeliveryPolicy): void {
    for (const id of deliveryIds) this.setTimer(id, now + policy.inFlightMs);
  }

  nextDue(): number | null {
    return all<{ due: number | null }>(this.sql, "SELECT MIN(due_at) AS due FROM webhook_timer")[0]?.due ?? null;
  }

  private setTimer(deliveryId: string, dueAt: number): void {
    this.sql.exec(
      "INSERT INTO webhook_timer (delivery_id, due_at) VALUES (?, ?) ON CONFLICT (delivery_id) DO UPDATE SET due_at = excluded.due_at",
      deliveryId,
      dueAt,
    );
  }

  private clearTimer(deliveryId: string): void {
    this.sql.exec("DELETE FROM webhook_timer WHERE delivery_id = ?", deliveryId);
  }
}

function view(r: EndpointRow, now: number): WebhookEndpoint {
  return {
    id: r.id,
    url: r.url,
    eventTypes: json.read<string[]>(r.event_types) ?? [],
    project: r.project,
    runId: r.run_id,
    description: r.description,
    status: r.status,
    disabledReason: r.disabled_reason,
    includeDecisionLinks: r.links_by !== null,
    previousSecretExpiresAt: r.prev_secret && (r.prev_expires_at ?? 0) > now ? iso(r.prev_expires_at) : null,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}
