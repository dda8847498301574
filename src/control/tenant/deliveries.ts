/**
 * A tenant's events and their deliveries: events handed over by its runs (and its own, such as
 * budget thresholds crossed) are followed by its approval list (approvals.ts) and fanned out to
 * its webhook endpoints (webhooks.ts holds the rows); the send loop puts due deliveries on the
 * webhooks queue, with its backoff. Home only: a shard's runs hand their events to home.
 */
import type { AttemptResult, DeliveryPolicy, DeliveryTask } from "../../../schema/webhooks";
import { webhookPoint, writePoints } from "../../analytics/points";
import { logError } from "../../lib/log";
import { sendChunked } from "../../lib/queue-batch";
import { deliveryPolicy } from "../../webhooks/config";
import type { ApprovalBook, HandedEvent } from "./approvals";
import type { Crossing } from "./budgets";
import type { TenantHost } from "./host";
import type { PurgeBook } from "./purge";
import { type PlannedEvent, WebhookBook } from "./webhooks";

/** Backoff of a failing send of due deliveries: 1 s, doubling, at most a minute. */
const SEND_BACKOFF_BASE_MS = 1_000;
const SEND_BACKOFF_MAX_MS = 60_000;

export class Deliveries {
  readonly webhooks: WebhookBook;
  /** Read from the environment once: it does not change while the object lives. */
  private readonly policy: DeliveryPolicy;
  /**
   * Consecutive failed sends of due deliveries, and when to try again. In memory on purpose: an
   * evicted object tries again at its alarm, which is already set to the backoff.
   */
  private sendFailures = 0;
  private sendRetryAt = 0;

  constructor(
    private readonly host: TenantHost,
    private readonly approvals: ApprovalBook,
    private readonly purges: PurgeBook,
  ) {
    this.webhooks = new WebhookBook(host.sql);
    this.policy = deliveryPolicy(host.env);
  }

  /**
   * Called by a run's outbox with its new events. Each (endpoint, event) delivery is recorded
   * with a due timer before this returns, and only then may the run delete its outbox rows: from
   * here on the tenant's timers, not a queue message, make sure every event is delivered.
   */
  async accept(events: HandedEvent[]): Promise<void> {
    // A purging tenant's webhooks are being deleted: its runs' last events go nowhere.
    if (this.purges.purging) return;
    this.approvals.follow(events);
    if (this.webhooks.accept(events, Date.now()).length === 0) return;
    // A send that failed a moment ago backs off; the alarm sends these with the rest.
    if (Date.now() >= this.sendRetryAt) await this.sendDue();
    await this.host.syncAlarm();
  }

  /** Deletes an endpoint with its deliveries (their timers go too). */
  async remove(endpointId: string): Promise<boolean> {
    const removed = this.webhooks.remove(endpointId);
    await this.host.syncAlarm();
    return removed;
  }

  /** Makes deliveries pending again; the alarm sends them at once. */
  async replay(endpointId: string, which: { deliveryId: string } | { failedSince: number }): Promise<string[] | null> {
    const ids = this.webhooks.replay(endpointId, which, Date.now());
    await this.host.syncAlarm();
    return ids;
  }

  /** Crossed budget thresholds go to the webhooks subscribed to `budget.threshold_crossed`. */
  async announce(crossings: Crossing[]): Promise<void> {
    if (crossings.length > 0) await this.accept(crossingEvents(this.host.tenantId, crossings));
  }

  /** A queued "events" message's attempts to make now (the webhooks consumer's). */
  async plan(events: PlannedEvent[]): Promise<DeliveryTask[]> {
    const tasks = this.webhooks.plan(events, Date.now(), this.policy);
    // Planning nothing (the common case: no endpoint wants these) changed no timer.
    if (tasks.length > 0) await this.host.syncAlarm();
    return tasks;
  }

  async task(deliveryId: string): Promise<DeliveryTask | null> {
    const task = this.webhooks.task(deliveryId, Date.now(), this.policy);
    await this.host.syncAlarm();
    return task;
  }

  async record(deliveryId: string, result: AttemptResult): Promise<void> {
    const recorded = this.webhooks.record(deliveryId, result, Date.now(), this.policy);
    if (recorded) writePoints(this.host.env.ANALYTICS, [webhookPoint(this.host.tenantId, recorded, result)]);
    await this.host.syncAlarm();
  }

  /**
   * Puts due deliveries on the webhooks queue. A timer moves only once its message is sent, so a
   * send that fails leaves its deliveries due, and the alarm backs off instead of spinning on them.
   * More than a pass's worth due: the alarm comes straight back for the rest.
   */
  async sendDue(): Promise<void> {
    const due = this.webhooks.due(Date.now());
    if (due.length === 0) return;
    const tenantId = this.host.tenantId;
    const { sent, error } = await sendChunked(
      this.host.env.QUEUE_WEBHOOKS,
      due.map((deliveryId) => ({ kind: "delivery" as const, tenantId, deliveryId })),
    );
    this.webhooks.leaseSent(due.slice(0, sent), Date.now(), this.policy);
    if (error === null) {
      this.sendFailures = 0;
      return;
    }
    this.sendFailures++;
    const backoffMs = Math.min(SEND_BACKOFF_MAX_MS, SEND_BACKOFF_BASE_MS * 2 ** (this.sendFailures - 1));
    this.sendRetryAt = Date.now() + backoffMs;
    logError("tenant.delivery_send_failed", {
      tenantId,
      due: due.length,
      sent,
      failures: this.sendFailures,
      backoffMs,
      error: String(error),
    });
  }

  /** When the alarm must send deliveries: due ones whose last send failed wait for the backoff. */
  nextDue(): number | null {
    const deliveries = this.webhooks.nextDue();
    return deliveries === null ? null : Math.max(deliveries, this.sendRetryAt);
  }
}

/** Budget thresholds crossed, as events for the webhooks subscribed to `budget.threshold_crossed`. */
function crossingEvents(tenantId: string, crossings: Crossing[]): HandedEvent[] {
  return crossings.map((c) => ({
    eventId: `evt_budget_${c.month}_${c.project ?? "_"}_${c.threshold}`,
    type: "budget.threshold_crossed",
    runId: "",
    projectId: c.project ?? "",
    tenantId,
    occurredAt: new Date(c.at).toISOString(),
    data: {
      month: c.month,
      project: c.project,
      threshold: c.threshold,
      limitUsd: c.limitUsd,
      spentUsd: c.spentUsd,
      onExceeded: c.onExceeded,
    },
  }));
}
