/**
 * The Run Durable Object: one per run, addressed by run id. A thin shell over RunEngine:
 * each RPC runs one engine decision in a SQLite transaction, then sends the outbox and sets
 * the single alarm to the earliest timer row.
 */
import { DurableObject } from "cloudflare:workers";
import type { ArtifactView, WireEvent, WireRun } from "../../../schema/api";
import { TERMINAL_RUN_STATUSES, type PoolName } from "../../../schema/vocabulary";
import { numberVar, resolveOptions, type Env } from "../../env";
import { RunEngine, type HeartbeatResult } from "./engine";
import { retrySource, type RetrySource } from "./retry";
import type { EngineConfig } from "./types";
import type { Refusal } from "../../../schema/errors";
import { sendOutbox } from "./outbox";
import { pointsSince, type PointContext } from "./analytics";
import { writePoints } from "../../analytics/points";
import { prices } from "../../analytics/prices";
import { RunStore } from "./store";
import { blueprintExpectedMs, type PoolBacklog } from "../metrics";
import { artifactView, eventView, runView } from "./views";
import type { BeginResult, NewRun, ReportResult, StepReport } from "../../../schema/run";
import type { RunUsage } from "../../../schema/usage";

export type ControlResult = { ok: true; run: WireRun } | Refusal;
export type RunControl = "cancel" | "pause" | "resume";

export class RunObject extends DurableObject<Env> {
  private readonly store: RunStore;
  private readonly engine: RunEngine;
  private alarmAt: number | null = null;
  private flushing: Promise<void> | null = null;
  private flushAgain = false;
  private readonly waiters = new Set<() => void>();
  /** The last event already turned into analytics points (in memory: at most once). */
  private analyzedSeq = 0;
  private readonly pointContext: PointContext;
  /**
   * Outbox rows sent but not yet deleted. The delete rides on the next transaction (the next
   * RPC's, or the flush timer's alarm) instead of costing one of its own after every send; until
   * then sends skip them. Lost on eviction, which only means those rows are sent again.
   */
  private readonly sentRows = new Set<number>();
  private webhooksFlushed = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new RunStore(ctx.storage.sql);
    this.engine = new RunEngine(this.store, engineConfig(env));
    this.pointContext = { prices: prices(env.PRICE_TABLE), expectedMs: blueprintExpectedMs };
    ctx.blockConcurrencyWhile(async () => {
      this.store.open();
      // Points for events logged before this object (re)started were written then, or are lost.
      if (this.store.run()) this.analyzedSeq = this.store.lastEventSeq();
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** Creates the run (idempotent on its id) and dispatches its first steps. */
  async create(spec: NewRun): Promise<WireRun> {
    this.mutate(() => {
      this.store.initialize();
      this.engine.create(spec, Date.now());
    });
    await this.settle();
    return runView(this.store.run()!, this.store.steps());
  }

  async get(tenantId: string): Promise<WireRun | null> {
    const run = this.owned(tenantId);
    return run ? runView(run, this.store.steps()) : null;
  }

  /**
   * Events after `after`, in order. With `waitMs`, an empty answer waits (long poll) until the
   * run changes or the time passes, so live streams are pushed rather than polled.
   */
  async events(
    tenantId: string,
    after: number,
    limit: number,
    waitMs = 0,
  ): Promise<{ items: WireEvent[]; nextAfter: number | null; finished: boolean } | null> {
    if (!this.owned(tenantId)) return null;
    let rows = this.store.events(after, limit);
    if (rows.length === 0 && waitMs > 0 && !TERMINAL_RUN_STATUSES.has(this.store.run()!.status)) {
      await this.nextChange(waitMs);
      rows = this.store.events(after, limit);
    }
    const run = this.store.run()!;
    return {
      items: rows.map((e) => eventView(run, e)),
      nextAfter: rows.length === limit ? rows[rows.length - 1]!.seq : null,
      finished: TERMINAL_RUN_STATUSES.has(run.status) && rows.length < limit,
    };
  }

  /** What the run has used so far (final once it has ended), from its recorded attempts. */
  async usage(tenantId: string): Promise<{ usage: RunUsage; final: boolean } | null> {
    const run = this.owned(tenantId);
    return run ? { usage: this.store.usage(), final: TERMINAL_RUN_STATUSES.has(run.status) } : null;
  }

  async artifacts(tenantId: string): Promise<ArtifactView[] | null> {
    return this.owned(tenantId) ? this.store.artifacts().map(artifactView) : null;
  }

  /** The manifest entry of one artifact, with its R2 key, or null if the tenant has no such thing. */
  async artifact(tenantId: string, name: string): Promise<(ArtifactView & { key: string }) | null> {
    if (!this.owned(tenantId)) return null;
    const row = this.store.artifact(name);
    return row ? { ...artifactView(row), key: row.r2_key } : null;
  }

  /** cancel, pause or resume; an illegal one is refused with a stable code (run.not_resumable, …). */
  async control(tenantId: string, action: RunControl): Promise<ControlResult | null> {
    if (!this.owned(tenantId)) return null;
    const result = this.mutate(() => this.engine[action](Date.now()));
    await this.settle();
    return result.ok ? { ok: true, run: runView(this.store.run()!, this.store.steps()) } : result;
  }

  /** Called by the tenant's object when it admits this run (a concurrency slot freed). */
  async start(): Promise<void> {
    this.mutate(() => this.engine.admit(Date.now()));
    await this.settle();
  }

  /** What a retry of this run needs; the first call records `newRunId` as its retry. */
  async retrySource(tenantId: string, newRunId: string): Promise<RetrySource | null> {
    if (!this.owned(tenantId)) return null;
    const result = this.mutate(() => retrySource(this.store, newRunId, Date.now()));
    await this.settle();
    return result;
  }

  /** This run's steps in flight, by pool (for the tenant's backlog metrics). */
  async backlog(): Promise<PoolBacklog[]> {
    return this.store.backlog();
  }

  /**
   * The tenant of a current, running attempt of a step in `pool` (external workers' artifacts go
   * under its prefix). The pool is checked here too, so a worker of one pool can never reach a
   * step that was dispatched to another, whatever it presents.
   */
  async attemptScope(stepId: string, attempt: number, pool: PoolName): Promise<{ tenantId: string } | null> {
    const run = this.store.run();
    const step = this.store.step(stepId);
    return run && step && step.pool === pool && step.attempt === attempt && step.status === "running"
      ? { tenantId: run.tenant_id }
      : null;
  }

  /** Called by a running handler: extends its lease; refused when the attempt should stop. */
  async heartbeat(stepId: string, attempt: number): Promise<HeartbeatResult> {
    const result = this.mutate(() => this.engine.heartbeat(stepId, attempt, Date.now()));
    await this.settle();
    return result;
  }

  /** Called by a queue consumer before it runs an attempt. */
  async begin(stepId: string, attempt: number): Promise<BeginResult> {
    const result = this.mutate(() => this.engine.begin(stepId, attempt, Date.now()));
    await this.settle();
    return result;
  }

  /**
   * Called by a worker with an attempt's outcome; a stale attempt is refused. With
   * `continueIn`, a step the outcome made ready in that pool is begun in the same transaction
   * and handed back to run at once: one call per step instead of a queue trip and a begin.
   */
  async report(report: StepReport, continueIn?: PoolName): Promise<ReportResult> {
    const result = this.mutate(() => {
      const now = Date.now();
      const before = continueIn ? this.store.lastOutboxId() : 0;
      const answer = this.engine.report(report, now);
      const next = answer.ok && continueIn ? this.engine.continueIn(continueIn, before, now) : null;
      return next ? { ...answer, next } : answer;
    });
    await this.settle();
    return result;
  }

  /** Called by a dead-letter consumer: the queue gave up on this attempt's message. */
  async deadLettered(stepId: string, attempt: number): Promise<ReportResult> {
    const result = this.mutate(() => this.engine.deadLettered(stepId, attempt, Date.now()));
    await this.settle();
    return result;
  }

  /** One alarm serves every timer row. Idempotent: rows are deleted as they are handled. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    this.mutate(() => {
      for (const timer of this.store.dueTimers(now)) this.engine.fire(timer, now);
    });
    await this.settle();
  }

  private owned(tenantId: string) {
    const run = this.store.run();
    return run && run.tenant_id === tenantId ? run : null;
  }

  private mutate<T>(decide: () => T): T {
    let result: T;
    try {
      result = this.ctx.storage.transactionSync(() => {
        this.store.beginTransaction();
        this.forgetSent();
        const decided = decide();
        this.store.commit();
        return decided;
      });
    } catch (err) {
      this.store.forgetCaches(); // they may hold what was just rolled back
      throw err;
    }
    for (const wake of this.waiters) wake();
    const { points, last } = pointsSince(this.store, this.analyzedSeq, this.pointContext);
    this.analyzedSeq = last;
    writePoints(this.env.ANALYTICS, points);
    return result;
  }

  /** Resolves at the next committed change, or after `ms`. Only long polls wait on it. */
  private nextChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiters.add(wake);
    });
  }

  /** After a change: send the outbox (one sender at a time), then move the alarm. */
  private async settle(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      try {
        do {
          this.flushAgain = false;
          const run = this.store.run();
          if (run) {
            const pass = await sendOutbox(this.store, this.env, run.tenant_id, Date.now(), this.sentRows);
            for (const id of pass.sent) this.sentRows.add(id);
            if (!pass.empty && pass.webhooksFlushed) this.webhooksFlushed = true;
            if (pass.admitted) {
              // The tenant answered "start now": admit in the same turn as the answer, so a
              // crash cannot lose it, then send the dispatches it wrote in this settle.
              this.mutate(() => this.engine.admit(Date.now()));
              this.flushAgain = true;
            }
            if (!pass.complete) {
              // What failed stays in the outbox; make sure a timer re-sends it (an alarm may have just spent it).
              this.mutate(() =>
                this.store.setTimer("outbox", "flush", Date.now() + engineConfig(this.env).outboxRetryMs),
              );
            }
          }
          await this.syncAlarm();
        } while (this.flushAgain);
      } finally {
        this.flushing = null;
      }
    })();
    return this.flushing;
  }

  /** Deletes what was sent since the last transaction; inside one. */
  private forgetSent(): void {
    if (this.sentRows.size === 0 && !this.webhooksFlushed) return;
    this.store.deleteOutbox([...this.sentRows]);
    this.sentRows.clear();
    if (this.webhooksFlushed) this.store.clearTimer("outbox", "webhooks");
    this.webhooksFlushed = false;
    if (this.store.outboxEmpty()) this.store.clearTimer("outbox", "flush");
  }

  private async syncAlarm(): Promise<void> {
    const next = this.store.nextTimer();
    if (next === this.alarmAt) return;
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
    this.alarmAt = next;
  }
}

function engineConfig(env: Env): EngineConfig {
  return {
    leaseQueuedMs: numberVar(env.LEASE_QUEUED_MS, 60_000),
    leaseGraceMs: numberVar(env.LEASE_GRACE_MS, 15_000),
    outboxRetryMs: 5_000,
    lostBudget: 10,
    webhookBatchMs: 2_000,
    resolve: resolveOptions(env),
  };
}
