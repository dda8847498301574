/**
 * Sending the Run DO's outbox: step dispatches to pool queues; run status and webhook events to
 * the tenant. One sender at a time per object (`OutboxSender`); what it sent is deleted in the
 * object's next transaction.
 */
import { TERMINAL_RUN_STATUSES, type PoolName } from "../../../schema/vocabulary";
import type { Env } from "../../env";
import { queueFor } from "../../../schema/pools";
import type { FlowMessage, StepGrant, StepMessage } from "../../../schema/messages";
import { debounceStub } from "../debounce/stub";
import { isStepMessage, sendStepFlow } from "./step-flow-send";
import { flowStub } from "../flow/stub";
import type { OutboxKind, OutboxRow } from "./rows";
import type { RunStore } from "./store";
import { eventView } from "./views";
import { logError } from "../../lib/log";
import { sendChunked } from "../../lib/queue-batch";
import type { TenantSync } from "../../../schema/run";
import { shardName } from "../tenant/shards";
import { exportTrace } from "./trace-export";
import type { EventWatchOp } from "../../../schema/automation";
import type { PinnedJobType } from "../../../schema/workers";
import type { Route } from "../pool/routing";
import { json } from "../sqlite";

/** What one pass over the outbox did; the caller records it in one transaction. */
export interface OutboxPass {
  /** Rows whose send succeeded: to delete. */
  sent: number[];
  /** False when a send failed and rows are left for the alarm to retry. */
  complete: boolean;
  /** Webhook rows went out (or there were none): the batching timer is done. */
  webhooksFlushed: boolean;
  /** The tenant answered a status update with "start now". */
  admitted: boolean;
  /** The outbox was empty: nothing was sent. */
  empty: boolean;
  /** Concurrency keys whose objects answered an acquire with a slot (flow-gate.ts). */
  granted: string[];
  /** Steps' keys whose objects answered an acquire with a slot or a token (step-flow.ts). */
  stepGranted: StepGrant[];
  /** Concurrency keys whose objects answered an acquire with "wait": the run gives its tenant slot back. */
  waiting: string[];
}

/**
 * Which rows a pass sends: step dispatches (to the pools' queues), or what goes to the tenant (its
 * status and the webhook events), or both. The object sends the two in separate lanes, so a slow
 * tenant object (every run of the tenant calls it) never holds a dispatch back.
 */
export type OutboxLane = "dispatch" | "tenant" | "all";
const inLane = (row: OutboxRow, lane: OutboxLane) =>
  lane === "all" || (lane === "dispatch") === (row.kind === "dispatch");

/** At most this many webhook events wait for their batching timer; more go out at once. */
const WEBHOOK_BATCH_EVENTS = 50;

/** A pass that has sent nothing yet. */
const newPass = (empty: boolean): OutboxPass => ({
  sent: [],
  complete: true,
  webhooksFlushed: true,
  admitted: false,
  empty,
  granted: [],
  stepGranted: [],
  waiting: [],
});

/**
 * Sends what the outbox holds, except rows already sent and not yet deleted. Step events' webhook
 * rows wait until their batching timer is due (engine: `webhookBatchMs`) so a chain's events share
 * one call to the tenant. Deletes nothing: the caller deletes `sent` later, in a transaction it makes anyway, so
 * a crash before that only re-sends (dispatches are fenced by attempt), never loses a row.
 */
export async function sendOutbox(
  store: RunStore,
  env: Env,
  tenantId: string,
  now: number,
  alreadySent: ReadonlySet<number>,
  lane: OutboxLane = "all",
): Promise<OutboxPass> {
  const rows = store.outbox().filter((r) => !alreadySent.has(r.id) && inLane(r, lane));
  const pass = newPass(rows.length === 0);
  if (pass.empty) return pass;
  const run = store.existingRun();
  const ids = { tenantId, runId: run.id, traceId: run.trace_id };

  const { byPool, kinds } = byDestination(rows);
  const { tenant: tenantRows, webhook: webhookRows, telemetry: telemetryRows } = kinds;
  if (kinds.flow.length > 0) await sendFlow(env, tenantId, run.id, kinds.flow, pass);

  if (kinds.automation.length > 0) await sendWatches(env, tenantId, kinds.automation, pass, ids);

  const webhooksDue = store.timerDueAt("outbox", "webhooks") ?? 0;
  if (webhookRows.length > 0 && webhooksDue > now && webhookRows.length < WEBHOOK_BATCH_EVENTS) {
    pass.webhooksFlushed = false; // held for the batching timer, whose alarm sends them
  } else if (webhookRows.length > 0) {
    const envelopes = store
      .eventsBySeq(webhookRows.map((r) => JSON.parse(r.body) as number))
      .map((e) => eventView(run, e));
    // Handed to the tenant's object, not to the webhooks queue: a queue message can be lost after
    // a successful send (the local broker keeps them in memory), and then nothing would bring the
    // events back. The rows stay until the tenant has recorded a delivery with a timer for each;
    // a second hand-over plans each (endpoint, event) once.
    try {
      await env.TENANT.getByName(tenantId).acceptEvents(envelopes);
      pass.sent.push(...webhookRows.map((r) => r.id));
    } catch (err) {
      logError("outbox.webhook_failed", { ...ids, count: webhookRows.length, error: String(err) });
      pass.complete = false;
    }
  }

  for (const [pool, poolRows] of byPool) {
    const messages = poolRows.map((r) => JSON.parse(r.body) as StepMessage);
    const { sent, error } = await dispatch(env, pool, run.id, messages, (m) => poolRoute(store, m));
    pass.sent.push(...poolRows.slice(0, sent).map((r) => r.id));
    if (error !== null) {
      logError("outbox.dispatch_failed", { ...ids, pool, count: poolRows.length - sent, error: String(error) });
      pass.complete = false;
    }
  }

  if (tenantRows.length > 0) {
    // Only the newest status matters; the tenant ignores anything older than what it has.
    const latest = tenantRows.reduce((a, b) => (a.id > b.id ? a : b));
    try {
      // To the tenant shard that indexed the run (its own object unless the tenant is sharded).
      const answer = await env.TENANT.getByName(shardName(tenantId, run.tenant_shard ?? 0)).recordRun(
        JSON.parse(latest.body) as TenantSync,
      );
      pass.admitted = answer.start;
      pass.sent.push(...tenantRows.map((r) => r.id));
    } catch (err) {
      logError("outbox.tenant_sync_failed", { ...ids, error: String(err) });
      pass.complete = false;
    }
  }
  // Last: a collector that hangs (each try is bounded) never holds the tenant's final sync back.
  if (telemetryRows.length > 0) {
    const exported = await exportTrace(store, env, telemetryRows, now);
    pass.sent.push(...exported.sent);
    if (!exported.complete) pass.complete = false;
  }
  return pass;
}

/**
 * Acquires and releases to the run's keys' objects, in order; the first that fails stops the rest
 * (a release must not overtake its acquire), which the flush timer sends again. Both are
 * idempotent on the key's side: a second acquire answers the slot the first was granted.
 */
async function sendFlow(env: Env, tenantId: string, runId: string, rows: OutboxRow[], pass: OutboxPass): Promise<void> {
  for (const row of rows) {
    const message = JSON.parse(row.body) as FlowMessage;
    try {
      if (isStepMessage(message)) {
        const grant = await sendStepFlow(env, tenantId, runId, message);
        if (grant) pass.stepGranted.push(grant);
        pass.sent.push(row.id);
        continue;
      }
      const flow = flowStub(env, tenantId, message.key);
      if (message.op === "debounce.settle")
        await debounceStub(env, tenantId, message.project, message.key).settle(runId);
      else if (message.op === "release") await flow.release(tenantId, message.key, runId);
      else
        ((await flow.acquire(tenantId, message.key, { runId, limit: message.limit, priority: message.priority }))
          .granted
          ? pass.granted
          : pass.waiting
        ).push(message.key);
      pass.sent.push(row.id);
    } catch (err) {
      logError("outbox.flow_failed", { tenantId, runId, op: message.op, error: String(err) });
      pass.complete = false;
      return;
    }
  }
}

/** Signal steps that wait for an event (or wait no more), in order, to the tenant's index of them. */
async function sendWatches(
  env: Env,
  tenantId: string,
  rows: OutboxRow[],
  pass: OutboxPass,
  ids: Record<string, string>,
): Promise<void> {
  try {
    // Typed here, not through the automation object's stub: that would import the object into the run's.
    const automation = env.AUTOMATION.getByName(tenantId) as unknown as {
      watchEvents(ops: EventWatchOp[]): Promise<void>;
    };
    await automation.watchEvents(rows.map((r) => JSON.parse(r.body) as EventWatchOp));
    pass.sent.push(...rows.map((r) => r.id));
  } catch (err) {
    logError("outbox.automation_failed", { ...ids, count: rows.length, error: String(err) });
    pass.complete = false;
  }
}

/** The outbox's rows by kind, each in order; step dispatches also by pool. */
function byDestination(rows: OutboxRow[]) {
  const kinds: Record<OutboxKind, OutboxRow[]> = {
    dispatch: [],
    tenant: [],
    webhook: [],
    telemetry: [],
    automation: [],
    flow: [],
  };
  // A stored kind not in the table (none is written today) goes to its pool, as the if-chain did.
  for (const row of rows) (kinds[row.kind] ?? kinds.dispatch).push(row);
  const byPool = new Map<PoolName, OutboxRow[]>();
  for (const row of kinds.dispatch) if (row.pool) byPool.set(row.pool, [...(byPool.get(row.pool) ?? []), row]);
  return { byPool, kinds };
}

/** Step messages to their pool: how many went out, in order, and the error that stopped the rest. */
async function dispatch(
  env: Env,
  pool: PoolName,
  runId: string,
  messages: StepMessage[],
  route: (m: StepMessage) => PoolRoute,
): Promise<{ sent: number; error: unknown }> {
  const queue = queueFor(env, pool, runId);
  let sent = 0;
  let error: unknown = null;
  if (queue) ({ sent, error } = await sendChunked(queue, messages));
  else {
    // An external pool has no queue: its object keeps what waits for a worker. A tenant job
    // type's step goes to its tenant's pool object (`<tenant>:<pool>`), the rest to the operator's.
    try {
      for (const [object, group] of byObject(messages.map((m) => ({ m, r: route(m) })))) {
        await env.POOL.getByName(object).offer(
          group.map((g) => g.m),
          group.map((g) => g.r.route),
        );
        sent += group.length;
      }
    } catch (err) {
      // Offers are idempotent: all go again rather than a count that is not a prefix of the rows.
      sent = 0;
      error = err;
    }
  }
  return { sent, error };
}

/** Where a message of an external pool waits, and how it is routed there. */
interface PoolRoute {
  object: string;
  route: Route;
}

const PRIORITY_RANK: Record<string, number> = { high: 0, normal: 1, low: 2 };

/** A step's pool object and route: its run's priority, and for a tenant job type the pinned pool and labels. */
function poolRoute(store: RunStore, m: StepMessage): PoolRoute {
  const pinned = json.read<PinnedJobType>(store.step(m.stepId)?.worker ?? null);
  const priority = PRIORITY_RANK[store.existingRun().priority] ?? 1;
  return pinned
    ? { object: `${m.tenantId}:${pinned.pool}`, route: { kind: m.type, requires: pinned.requires, priority } }
    : { object: m.pool, route: { kind: m.type, requires: {}, priority } };
}

/** Messages by pool object, in order within each. */
function byObject(items: { m: StepMessage; r: PoolRoute }[]): Map<string, { m: StepMessage; r: PoolRoute }[]> {
  const groups = new Map<string, { m: StepMessage; r: PoolRoute }[]>();
  for (const item of items) groups.set(item.r.object, [...(groups.get(item.r.object) ?? []), item]);
  return groups;
}

/** What the sender needs of its object: a pass's consequences are transactions of the object's own. */
export interface SenderHooks {
  /** The tenant answered "start now": admit the run, in a transaction. */
  admit(): void;
  /**
   * Keys' objects answered acquires, "wait" or granted: the run gives its tenant slot back, or
   * records its slots and starts (or asks its tenant again) once it holds every key, in a transaction.
   */
  keysAnswered(waiting: string[], granted: string[]): void;
  /** Steps' keys' objects granted slots or tokens: record them and dispatch the steps, in a transaction. */
  stepGranted(grants: StepGrant[]): void;
  /** A send failed: make sure a timer re-sends what is left (an alarm may have just spent it), in a transaction. */
  retryLater(): void;
  /**
   * After each pass: move the alarm. `deferrable`: the tenant lane will move it after this, so the
   * move may be left to it when the alarm comes soon anyway (a timer due meanwhile waits no longer
   * than a lost send already may).
   */
  afterPass(deferrable: boolean): Promise<void>;
  /** Deletes the rows sent so far, in a transaction of its own (an ended run's last pass). */
  forgetNow(): void;
}

/**
 * The object's outbox sender, in two lanes (dispatches; the tenant's status and events), each one
 * pass at a time, and another after it when a change came in meanwhile. A retry's dispatch, written
 * while the tenant lane waits on a slow tenant object, goes out at once on its own lane instead of
 * after that call (issue 33, finding 9: retries waited for their queued lease under load). Rows sent
 * are deleted by the next transaction (the next RPC's, or the flush timer's alarm) instead of costing
 * one of their own after every send; until then passes skip them.
 */
export class OutboxSender {
  /** Outbox rows sent but not yet deleted. Lost on eviction, which only means those rows are sent again. */
  private readonly sentRows = new Set<number>();
  private webhooksFlushed = false;
  /**
   * The tenant lane's pass is under way and has not yet begun moving the alarm: it will, after,
   * from the timers as they are then. Cleared just before that move, so the dispatch lane (the
   * only one that may leave the move to the other) never skips one no lane makes.
   */
  private tenantMoving = false;
  private readonly lanes: Record<"dispatch" | "tenant", { flushing: Promise<void> | null; again: boolean }> = {
    dispatch: { flushing: null, again: false },
    tenant: { flushing: null, again: false },
  };

  constructor(
    private readonly store: RunStore,
    private readonly env: Env,
    private readonly hooks: SenderHooks,
  ) {}

  /** After a change: sends the outbox on both lanes. */
  async settle(): Promise<void> {
    await Promise.all([this.settleLane("dispatch"), this.settleLane("tenant")]);
  }

  /** Sends a lane's rows, or, while a pass of that lane is under way, asks it for another. */
  private settleLane(name: "dispatch" | "tenant"): Promise<void> {
    const lane = this.lanes[name];
    if (lane.flushing) {
      lane.again = true;
      return lane.flushing;
    }
    lane.flushing = (async () => {
      try {
        do {
          lane.again = false;
          if (name === "tenant") this.tenantMoving = true;
          const run = this.store.run();
          if (run) {
            const pass = await sendOutbox(this.store, this.env, run.tenant_id, Date.now(), this.sentRows, name);
            for (const id of pass.sent) this.sentRows.add(id);
            if (name === "tenant" && !pass.empty && pass.webhooksFlushed) this.webhooksFlushed = true;
            if (pass.admitted) {
              // Admitted in the same turn as the answer, so a crash cannot lose it; the dispatch
              // lane sends the dispatches it wrote.
              this.hooks.admit();
              await this.settleLane("dispatch");
            }
            if (pass.granted.length > 0 || pass.waiting.length > 0) {
              // The next key's acquire, the tenant told, or the dispatches of a run that holds them all.
              this.hooks.keysAnswered(pass.waiting, pass.granted);
              lane.again = true;
              await this.settleLane("dispatch");
            }
            if (pass.stepGranted.length > 0) {
              this.hooks.stepGranted(pass.stepGranted);
              lane.again = true;
              await this.settleLane("dispatch");
            }
            if (!pass.complete) this.hooks.retryLater();
            // An ended run has no next transaction to delete what this pass sent: deleted now, so
            // the alarm moves straight to the next real timer (its archive) instead of firing, due
            // at once, only to delete them (a setAlarm and an invocation saved per run).
            const now = this.store.run();
            if (name === "tenant" && this.sentRows.size > 0 && now && TERMINAL_RUN_STATUSES.has(now.status))
              this.hooks.forgetNow();
          }
          if (name === "tenant") this.tenantMoving = false;
          await this.hooks.afterPass(name === "dispatch" && this.lanes.tenant.flushing !== null && this.tenantMoving);
        } while (lane.again);
      } finally {
        lane.flushing = null;
        if (name === "tenant") this.tenantMoving = false;
      }
    })();
    return lane.flushing;
  }

  /** Deletes what was sent since the last transaction; called inside each. */
  forgetSent(): void {
    if (this.sentRows.size === 0 && !this.webhooksFlushed) return;
    this.store.deleteOutbox([...this.sentRows]);
    this.sentRows.clear();
    if (this.webhooksFlushed) this.store.clearTimer("outbox", "webhooks");
    this.webhooksFlushed = false;
    if (this.store.outboxEmpty()) this.store.clearTimer("outbox", "flush");
  }
}
