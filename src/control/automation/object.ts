/**
 * The Automation Durable Object: one per tenant (addressed by the tenant's id), holding what
 * starts the tenant's runs by itself: its schedules (schedules.ts; when they fire: spec.ts). It is
 * apart from the tenant's object so that 10,000 schedules weigh nothing on run admission: a fire
 * opens its run through the same path as `POST /v1/runs` (../start-run.ts), with the
 * Idempotency-Key `schedule:{id}:{fireTime}`, so a fire retried after a kill starts no second run.
 */
import { DurableObject } from "cloudflare:workers";
import {
  type CreateScheduleBody,
  type CreateTriggerBody,
  type EventAccepted,
  type EventWatchOp,
  DEFAULT_MAX_TRIGGERS,
  type SendEventBody,
  type TriggerView,
  DEFAULT_MAX_SCHEDULES,
  MIN_EVERY_MS,
  MIN_EVERY_MS_PRODUCTION,
  type ScheduleSpec,
  type ScheduleView,
  type UpdateScheduleBody,
  type WokenStep,
} from "../../../schema/automation";
import type { Json, JsonObject } from "../../../schema/api";
import { parseDuration } from "../../../schema/duration";
import { type Refusal, refuse } from "../../../schema/errors";
import { TERMINAL_RUN_STATUSES } from "../../../schema/vocabulary";
import { isProduction, resolveOptions, type Env } from "../../env";
import { AppError } from "../../errors";
import { newRunId, newTraceId, sha256Hex } from "../../lib/crypto";
import { Alarm } from "../alarms";
import { resolveRun } from "../resolve";
import { runStub } from "../run/stub";
import { json, type Migration, migrate } from "../sqlite";
import { startRun } from "../start-run";
import { INTERNAL_AUTH } from "../tenant/open-on-shard";
import { type RunBody, SCHEDULE_MIGRATION, ScheduleBook, type ScheduleRow } from "./schedules";
import { TRIGGER_MIGRATION, TriggerBook } from "./triggers";
import { EVENT_WAIT_MIGRATION, EventWaitBook } from "./event-waits";

/** v1: schedules, their fires and timers; v2: triggers and the events seen; v3: signal steps waiting for events. */
/** Exported for the upgrade tests (test/integration/upgrades.test.ts). */
export const MIGRATIONS: readonly Migration[] = [SCHEDULE_MIGRATION, TRIGGER_MIGRATION, EVENT_WAIT_MIGRATION];
import { nextFire, specProblem } from "./spec";

/** A fire later than this is still on time (an alarm under load, a restart): beyond it, catchUp decides. */
export const LATE_GRACE_MS = 60_000;
/** Schedules fired per alarm; more due ones bring the alarm straight back. */
const FIRES_PER_ALARM = 25;
/** A fire that failed for a reason other than a refusal (the runtime, not the tenant) is tried again. */
const RETRY_FIRE_MS = 5_000;

export type ScheduleResult = { ok: true; schedule: ScheduleView } | Refusal;
export type FireResult = { ok: true; fireTime: string; runId: string; replayed: boolean } | Refusal;
/** A fire's run: started (or replayed), refused by the tenant (quota, budget, a bad blueprint), or to try again. */
type Started = { ok: true; runId: string; replayed: boolean } | (Refusal & { again: boolean });

export class AutomationObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly schedules: ScheduleBook;
  private readonly triggers: TriggerBook;
  private readonly waits: EventWaitBook;
  private readonly alarmClock: Alarm;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.schedules = new ScheduleBook(this.sql);
    this.triggers = new TriggerBook(this.sql);
    this.waits = new EventWaitBook(this.sql);
    this.alarmClock = new Alarm(ctx.storage);
    ctx.blockConcurrencyWhile(async () => {
      migrate(this.sql, MIGRATIONS);
      await this.alarmClock.load();
    });
  }

  private get tenantId(): string {
    return this.ctx.id.name ?? "";
  }

  private minEveryMs(): number {
    return isProduction(this.env) ? MIN_EVERY_MS_PRODUCTION : MIN_EVERY_MS;
  }

  /** Why a spec or catch-up window cannot be used, as the refusal the API answers. */
  private specRefusal(spec: ScheduleSpec | undefined, catchUp: string | undefined, now: number): Refusal | null {
    const why = spec ? specProblem(spec, now, this.minEveryMs()) : null;
    if (why) return refuse("schedule.invalid_spec", why);
    const window = catchUp === undefined ? null : parseDuration(catchUp);
    if (window && !window.ok) return refuse("schedule.invalid_spec", `catchUp: ${window.reason}`);
    return null;
  }

  async createSchedule(body: CreateScheduleBody, maxSchedules = DEFAULT_MAX_SCHEDULES): Promise<ScheduleResult> {
    const now = Date.now();
    const bad = this.specRefusal(body.spec, body.catchUp, now);
    if (bad) return bad;
    if (this.schedules.count() >= maxSchedules)
      return refuse("schedule.limit", `the tenant has ${maxSchedules} schedules, its limit (limits.maxSchedules)`);
    const row = this.ctx.storage.transactionSync(() =>
      this.schedules.create(`sch_${newRunId(now).slice(4)}`, body, now),
    );
    await this.syncAlarm();
    return { ok: true, schedule: this.schedules.view(row, true, now) };
  }

  async listSchedules(limit: number, after: string | null): Promise<{ items: ScheduleView[]; last: string | null }> {
    const now = Date.now();
    const rows = this.schedules.page(limit + 1, after);
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => this.schedules.view(r, false, now)),
      last: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
    };
  }

  async getSchedule(id: string): Promise<ScheduleView | null> {
    const row = this.schedules.get(id);
    return row ? this.schedules.view(row, true, Date.now()) : null;
  }

  async updateSchedule(id: string, patch: UpdateScheduleBody): Promise<ScheduleResult | null> {
    const now = Date.now();
    const row = this.schedules.get(id);
    if (!row) return null;
    const bad = this.specRefusal(patch.spec, patch.catchUp, now);
    if (bad) return bad;
    const updated = this.ctx.storage.transactionSync(() => this.schedules.update(row, patch, now));
    await this.syncAlarm();
    return { ok: true, schedule: this.schedules.view(updated, true, now) };
  }

  async deleteSchedule(id: string): Promise<boolean> {
    const deleted = this.ctx.storage.transactionSync(() => this.schedules.delete(id));
    await this.syncAlarm();
    return deleted;
  }

  /** Fires the schedule now, whatever its spec, pause or overlap say: a person asked for it. */
  async triggerSchedule(id: string): Promise<FireResult | null> {
    const row = this.schedules.get(id);
    if (!row) return null;
    const fireTime = Date.now();
    const started = await this.start(row, fireTime);
    if (!started.ok) {
      if (started.again) throw new Error(started.message);
      this.schedules.recordFire(id, fireTime, "refused", null, `${started.code}: ${started.message}`, Date.now());
      return { ok: false, code: started.code, message: started.message };
    }
    this.schedules.recordFire(id, fireTime, "started", started.runId, "triggered by hand", Date.now());
    this.schedules.advance(id, { last_run: started.runId });
    return { ok: true, fireTime: new Date(fireTime).toISOString(), runId: started.runId, replayed: started.replayed };
  }

  // ── triggers and events ───────────────────────────────────────────────────────

  async createTrigger(
    body: CreateTriggerBody,
    maxTriggers = DEFAULT_MAX_TRIGGERS,
  ): Promise<{ ok: true; trigger: TriggerView } | Refusal> {
    if (this.triggers.count() >= maxTriggers)
      return refuse("trigger.limit", `the tenant has ${maxTriggers} triggers, its limit (limits.maxTriggers)`);
    const now = Date.now();
    return { ok: true, trigger: this.triggers.create(`trg_${newRunId(now).slice(4)}`, body, now) };
  }

  async listTriggers(limit: number, after: string | null): Promise<{ items: TriggerView[]; last: string | null }> {
    const rows = this.triggers.page(limit + 1, after);
    const page = rows.slice(0, limit);
    return { items: page, last: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
  }

  async deleteTrigger(id: string): Promise<boolean> {
    return this.triggers.delete(id);
  }

  /**
   * An event: one run per matching trigger, each opened with the Idempotency-Key
   * `event:{id}:{triggerId}`. The same id again within 24 h starts nothing more: it is answered
   * with the runs of the first (asked again of the tenant, by the same keys, while the first is
   * still starting them), against the triggers that matched then.
   */
  async acceptEvent(event: SendEventBody): Promise<EventAccepted> {
    const now = Date.now();
    const seen = this.triggers.seen(event.id, now);
    if (seen?.runs) return { eventId: event.id, duplicate: true, runs: seen.runs, woke: seen.woke ?? [] };
    const all = this.triggers.matching(event);
    const targets = seen ? all.filter((t) => seen.triggerIds.includes(t.id)) : all;
    if (!seen)
      this.triggers.markSeen(
        event.id,
        targets.map((t) => t.id),
        now,
      );
    const [runs, woke] = await Promise.all([
      Promise.all(targets.map((t) => this.startForEvent(event, t.id, t.body))),
      this.wake(event, now),
    ]);
    if (runs.every((r) => r.runId !== null || r.error !== "internal") && woke.every((w) => w.error !== "internal"))
      this.triggers.recordRuns(event.id, runs, woke);
    return { eventId: event.id, duplicate: seen !== null, runs, woke };
  }

  /** A run's signal steps that wait for an event, or wait no more (its outbox, in order). */
  async watchEvents(ops: EventWatchOp[]): Promise<void> {
    this.ctx.storage.transactionSync(() => this.waits.apply(ops));
  }

  /**
   * Completes every waiting signal step whose `event` declaration the event matches, with the
   * event's data as its signal (the step's schema applies). A signal is idempotent by its body,
   * so a repeat of the event (a retry, a second delivery racing the first) completes nothing
   * twice; a step whose run is gone or finished is dropped from the index.
   */
  private async wake(event: SendEventBody, now: number): Promise<WokenStep[]> {
    const data = event.data as Json;
    return Promise.all(
      this.waits.matching(event as SendEventBody & { data: JsonObject }, now).map(async (w): Promise<WokenStep> => {
        try {
          const result = await runStub(this.env, w.runId).signal(this.tenantId, w.name, data, {
            kind: "link",
            linkId: `event:${event.id}`,
          });
          if (result?.ok) {
            this.waits.remove(w.runId, w.stepId);
            return { runId: w.runId, stepId: w.stepId, ok: true };
          }
          const code = result ? result.code : "run.not_found";
          if (code !== "signal.invalid_body") this.waits.remove(w.runId, w.stepId);
          return { runId: w.runId, stepId: w.stepId, ok: false, error: code };
        } catch {
          return { runId: w.runId, stepId: w.stepId, ok: false, error: "internal" };
        }
      }),
    );
  }

  private async startForEvent(
    event: SendEventBody,
    triggerId: string,
    body: RunBody,
  ): Promise<EventAccepted["runs"][number]> {
    const resolved = resolveRun(body, resolveOptions(this.env));
    if (!resolved.ok) return { triggerId, runId: null, error: resolved.error.code };
    const key = `event:${event.id}:${triggerId}`;
    try {
      const { run } = await startRun(this.env, {
        tenantId: this.tenantId,
        body,
        steps: resolved.steps,
        traceId: newTraceId(),
        auth: INTERNAL_AUTH,
        idempotency: { key, bodyHash: await sha256Hex(key) },
        origin: { kind: "event", id: event.id, triggerId },
      });
      return { triggerId, runId: run.id };
    } catch (err) {
      return { triggerId, runId: null, error: err instanceof AppError ? err.code : "internal" };
    }
  }

  override async alarm(): Promise<void> {
    this.alarmClock.fired();
    const now = Date.now();
    for (const id of this.schedules.due(now, FIRES_PER_ALARM)) await this.fireDue(id, Date.now());
    await this.syncAlarm();
  }

  private async syncAlarm(): Promise<void> {
    await this.alarmClock.sync(this.schedules.nextDue());
  }

  /** A schedule whose timer came due: its buffered fire if the run it waited for ended, then its next fire. */
  private async fireDue(id: string, now: number): Promise<void> {
    let row = this.schedules.get(id);
    if (!row || row.paused === 1) {
      if (row) this.schedules.arm(row);
      return;
    }
    if (row.buffered !== null && !(await this.lastRunGoing(row))) {
      if (!(await this.fire(row, row.buffered, now, "buffered"))) return;
      row = this.schedules.get(id) as ScheduleRow;
    }
    if (row.next_fire === null || row.next_fire > now) {
      this.schedules.arm(row);
      return;
    }
    const fireTime = this.onTime(row, now);
    if (fireTime === null || fireTime > now) return;
    if (row.overlap !== "allow" && (await this.lastRunGoing(row))) {
      const next = nextFire(json.read<ScheduleSpec>(row.spec) as ScheduleSpec, row.anchor, fireTime);
      if (row.overlap === "buffer-one" && row.buffered === null) {
        this.schedules.recordFire(id, fireTime, "skipped", null, `kept to start when ${row.last_run} ends`, now);
        this.schedules.advance(id, { next_fire: next, buffered: fireTime });
      } else {
        this.schedules.recordFire(id, fireTime, "skipped", null, `run ${row.last_run} is still going`, now);
        this.schedules.advance(id, { next_fire: next });
      }
      return;
    }
    await this.fire(row, fireTime, now, "next");
  }

  /**
   * The fire time to make now. Fires missed beyond the catch-up window (plus a minute's grace)
   * are recorded once, as one `missed` row naming how many, and the schedule moves on past them.
   */
  private onTime(row: ScheduleRow, now: number): number | null {
    const spec = json.read<ScheduleSpec>(row.spec) as ScheduleSpec;
    const window = parseDuration(row.catch_up);
    const earliest = now - (window.ok ? window.ms : 0) - LATE_GRACE_MS;
    let t: number | null = row.next_fire as number;
    if (t >= earliest) return t;
    const first = t;
    let missed = 0;
    while (t !== null && t < earliest) {
      missed++;
      t = nextFire(spec, row.anchor, t);
    }
    this.schedules.recordFire(
      row.id,
      first,
      "missed",
      null,
      `${missed} fire(s) missed: the runtime was down longer than catchUp`,
      now,
    );
    this.schedules.advance(row.id, { next_fire: t });
    return t;
  }

  /** Starts the fire's run and moves the schedule on; false when it is to be tried again later. */
  private async fire(row: ScheduleRow, fireTime: number, now: number, which: "next" | "buffered"): Promise<boolean> {
    const started = await this.start(row, fireTime);
    const current = this.schedules.get(row.id);
    // Deleted, or changed while the run was being started (another request ran meanwhile): the
    // run stands (its key holds it), the schedule as it is now decides what comes next.
    if (!current) return false;
    if (!started.ok && started.again) {
      this.schedules.arm(current, Date.now() + RETRY_FIRE_MS);
      return false;
    }
    const moved =
      which === "buffered"
        ? { buffered: null }
        : current.next_fire === fireTime
          ? { next_fire: nextFire(json.read<ScheduleSpec>(current.spec) as ScheduleSpec, current.anchor, fireTime) }
          : {};
    if (started.ok) {
      this.schedules.recordFire(row.id, fireTime, "started", started.runId, null, now);
      this.schedules.advance(row.id, { ...moved, last_run: started.runId });
    } else {
      this.schedules.recordFire(row.id, fireTime, "refused", null, `${started.code}: ${started.message}`, now);
      this.schedules.advance(row.id, moved);
      await this.announceRefusal(row, fireTime, started, now);
    }
    return true;
  }

  /** Opens the fire's run. A refusal of the tenant (quota, budget) is answered; anything else is a retryable refusal. */
  private async start(row: ScheduleRow, fireTime: number): Promise<Started> {
    const body = json.read<RunBody>(row.body) as RunBody;
    // Resolved at each fire: a blueprint changed since the schedule was made is used as it is now.
    const resolved = resolveRun(body, resolveOptions(this.env));
    if (!resolved.ok) return { ok: false, code: resolved.error.code, message: resolved.error.message, again: false };
    const key = `schedule:${row.id}:${new Date(fireTime).toISOString()}`;
    try {
      const { run, replayed } = await startRun(this.env, {
        tenantId: this.tenantId,
        body,
        steps: resolved.steps,
        traceId: newTraceId(),
        auth: INTERNAL_AUTH,
        // The key alone is the body's identity: a fire retried after the schedule's input changed is still that fire.
        idempotency: { key, bodyHash: await sha256Hex(key) },
        origin: { kind: "schedule", id: row.id, fireTime: new Date(fireTime).toISOString() },
      });
      return { ok: true, runId: run.id, replayed };
    } catch (err) {
      // The tenant's refusals (quota, budget) are final for this fire; the runtime's failures are tried again.
      if (err instanceof AppError && err.status < 500)
        return { ok: false, code: err.code, message: err.message, again: false };
      return { ok: false, code: "internal", message: String(err), again: true };
    }
  }

  /** Whether the run the schedule's last fire started is still going (an archived or gone run is not). */
  private async lastRunGoing(row: ScheduleRow): Promise<boolean> {
    if (!row.last_run) return false;
    const run = await runStub(this.env, row.last_run).get(this.tenantId);
    return run !== null && !TERMINAL_RUN_STATUSES.has(run.status);
  }

  /** A refused fire is news to the tenant's webhooks (`schedule.fire_refused`); never retried by itself. */
  private async announceRefusal(row: ScheduleRow, fireTime: number, refusal: Refusal, now: number): Promise<void> {
    const body = json.read<RunBody>(row.body) as RunBody;
    await this.env.TENANT.getByName(this.tenantId)
      .acceptEvents([
        {
          eventId: `evt_sch_${row.id.slice(4)}_${fireTime}`,
          type: "schedule.fire_refused",
          runId: "",
          projectId: body.project,
          occurredAt: new Date(now).toISOString(),
          data: {
            scheduleId: row.id,
            fireTime: new Date(fireTime).toISOString(),
            code: refusal.code,
            message: refusal.message,
          },
        },
      ])
      .catch(() => undefined);
  }
}
