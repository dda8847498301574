/**
 * The Run Durable Object: one per run, addressed by run id. A thin shell over RunEngine:
 * each RPC runs one engine decision in a SQLite transaction, then sends the outbox and sets
 * the single alarm to the earliest timer row.
 */
import type { StepGrant } from "../../../schema/messages";
import { DurableObject } from "cloudflare:workers";
import type { ArtifactView, WireEvent, WireRun } from "../../../schema/api";
import { TERMINAL_RUN_STATUSES, type PoolName } from "../../../schema/vocabulary";
import type { Env } from "../../env";
import { RunEngine } from "./engine";
import { runScanning, type HeartbeatResult } from "./attempt-engine";
import type { ReleaseResult } from "./release";
import { retrySource, type RetrySource } from "./retry";
import { engineConfig } from "./engine-config";
import { refuse, type Refusal } from "../../../schema/errors";
import { OutboxSender } from "./outbox";
import { CONTINUATION_POINTS_BATCH, MAX_POINTS_PER_CALL, pointsSince, type PointContext } from "./analytics";
import { writePoints } from "../../analytics/points";
import { prices } from "../../analytics/prices";
import { RunStore } from "./store";
import { blueprintExpectedMs, type PoolBacklog } from "../metrics";
import { artifactView, eventView, lineages, runView } from "./views";
import type {
  BeginResult,
  Decider,
  DeciderKey,
  DecisionResult,
  GateDecision,
  LinksResult,
  NewRun,
  ReportResult,
  SignalResult,
  StepReport,
  ControlActor,
  HttpRequestRecord,
} from "../../../schema/run";
import type { Json } from "../../../schema/api";
import type { RunUsage } from "../../../schema/usage";
import type { RunScanning } from "../../../schema/scanning";
import { Alarm } from "../alarms";
import { Waiters } from "../waiters";
import { json } from "../sqlite";
import type { PinnedJobType } from "../../../schema/workers";
import { noteUnroutable, type UnroutableNote } from "./unroutable";
import { spawnedTenantJobs } from "./spawn-jobs";
import type { LinkClaims } from "../../lib/decision-links";
import { RunLifecycle } from "./lifecycle";
import type { DebounceTake, TakeResult } from "./debounce-gate";
import type { RunRetention } from "../../../schema/retention";
import type { Fingerprint, Redaction } from "../../artifacts/redact";
import {
  redactComment,
  redactedEventData,
  redactInputs,
  redactReport,
  redactSignal,
  tenantFingerprint,
} from "./redaction";

/** When the next invocation writes the points a mass ending left over. */
const POINTS_FOLLOW_MS = 1_000;

export type ControlResult = { ok: true; run: WireRun } | Refusal;
export type RunControl = "cancel" | "pause" | "resume";

export class RunObject extends DurableObject<Env> {
  private readonly store: RunStore;
  private readonly engine: RunEngine;
  private readonly alarmClock: Alarm;
  private readonly outbox: OutboxSender;
  /** Long polls for events, woken by every committed change. */
  private readonly waiters = new Waiters();
  /** The last event already turned into analytics points (in memory: at most once). */
  private analyzedSeq = 0;
  /** Endings after `analyzedSeq` are still to be turned into points (more than one call may write). */
  private pointsBehind = false;
  private readonly pointContext: PointContext;
  private readonly lifecycle: RunLifecycle;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new RunStore(ctx.storage.sql);
    this.engine = new RunEngine(this.store, engineConfig(env));
    this.pointContext = { prices: prices(env.PRICE_TABLE), expectedMs: blueprintExpectedMs };
    this.alarmClock = new Alarm(ctx.storage);
    this.outbox = new OutboxSender(this.store, env, {
      admit: () => this.mutate(() => this.engine.admit(Date.now())),
      keysAnswered: (waiting, granted) => this.mutate(() => this.engine.keysAnswered(waiting, granted, Date.now())),
      stepGranted: (grants) =>
        this.mutate(() => {
          for (const g of grants) this.engine.stepFlow.granted(g, Date.now());
        }),
      retryLater: () =>
        this.mutate(() => this.store.setTimer("outbox", "flush", Date.now() + engineConfig(this.env).outboxRetryMs)),
      afterPass: (deferrable) => this.moveAlarm(deferrable),
      forgetNow: () => this.mutate(() => undefined),
    });
    this.lifecycle = new RunLifecycle({
      store: this.store,
      env,
      storage: ctx.storage,
      outbox: this.outbox,
      alarmClock: this.alarmClock,
      mutate: (decide) => this.mutate(decide),
    });
    ctx.blockConcurrencyWhile(async () => {
      this.store.open();
      // Points for events logged before this object (re)started were written then, or are lost.
      if (this.store.run()) this.analyzedSeq = this.store.lastEventSeq();
      await this.alarmClock.load();
    });
  }

  /** Creates the run (idempotent on its id) and dispatches its first steps. */
  async create(given: NewRun): Promise<WireRun> {
    // The inputs pass the rules that outputs pass (issue 33): a token in a run's input is not stored.
    const found: Redaction[] = [];
    const fingerprint = tenantFingerprint(this.env.FINGERPRINT_KEY, given.tenantId);
    const steps = await redactInputs(given.steps, (s) => `steps.${s.id}.input`, fingerprint, found);
    const spec = { ...given, steps };
    await this.change(() => {
      this.store.initialize();
      const fresh = this.store.run() === null;
      this.engine.create(spec, Date.now());
      if (fresh) this.redacted(found, Date.now(), null, {});
    });
    return runView(this.store.existingRun(), this.store.steps());
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
    const owned = this.owned(tenantId);
    if (!owned) return null;
    let rows = this.store.events(after, limit);
    if (rows.length === 0 && waitMs > 0 && !TERMINAL_RUN_STATUSES.has(owned.status)) {
      await this.waiters.wait(waitMs);
      rows = this.store.events(after, limit);
    }
    const run = this.store.existingRun(); // as it is now: the wait may have moved it on
    const last = rows[rows.length - 1];
    return {
      items: rows.map((e) => eventView(run, e)),
      nextAfter: last && rows.length === limit ? last.seq : null,
      finished: TERMINAL_RUN_STATUSES.has(run.status) && rows.length < limit,
    };
  }

  /** What the run has used so far (final once it has ended), from its recorded attempts. */
  async usage(tenantId: string): Promise<{ usage: RunUsage; final: boolean; waitingMs: number } | null> {
    const run = this.owned(tenantId);
    if (!run) return null;
    return {
      usage: this.store.usage(),
      final: TERMINAL_RUN_STATUSES.has(run.status),
      waitingMs: this.store.waitingMs(Date.now()),
    };
  }

  async artifacts(tenantId: string): Promise<ArtifactView[] | null> {
    const run = this.owned(tenantId);
    if (!run) return null;
    const rows = this.store.artifacts();
    const lineage = lineages(run, this.store.steps(), rows);
    return rows.map((a) => artifactView(a, run.status, lineage(a)));
  }

  /** The manifest entry of one artifact, with its R2 key, or null if the tenant has no such thing. */
  async artifact(tenantId: string, name: string): Promise<(ArtifactView & { key: string }) | null> {
    const run = this.owned(tenantId);
    if (!run) return null;
    const row = this.store.artifact(name);
    if (!row) return null;
    const lineage = lineages(run, this.store.steps(), this.store.artifacts());
    return { ...artifactView(row, run.status, lineage(row)), key: row.r2_key };
  }

  /** cancel, pause or resume; an illegal one is refused with a stable code (run.not_resumable, …). */
  /** `by`: who asks (`key:…`), named in the run's event. */
  async control(
    tenantId: string,
    action: RunControl,
    by?: string,
    request?: HttpRequestRecord,
  ): Promise<ControlResult | null> {
    if (!this.owned(tenantId)) return null;
    const result = await this.change(() => this.engine[action](Date.now(), by, request));
    return result.ok ? { ok: true, run: runView(this.store.existingRun(), this.store.steps()) } : result;
  }

  /**
   * A key's decision on an approval gate (approve or reject). Null when the tenant has no such run.
   * Concurrent decisions are serialized by the object: the first wins, the rest see it.
   */
  async decide(
    tenantId: string,
    stepId: string,
    decision: GateDecision,
    key: DeciderKey,
    comment: string | null,
    request?: HttpRequestRecord,
  ): Promise<DecisionResult | null> {
    if (!this.owned(tenantId)) return null;
    const by: Decider = { kind: "key", keyId: key.keyId, name: key.name };
    const found: Redaction[] = [];
    const clean = await redactComment(comment, this.fingerprint, found);
    return this.change(() => {
      const now = Date.now();
      const answer = this.engine.gates.withRequest(request, () =>
        this.engine.decide(stepId, decision, by, key, clean, now),
      );
      if (answer.ok && !answer.decision.repeated) this.redacted(found, now, stepId, {});
      return answer;
    });
  }

  /**
   * Redeems a signed decision link (already verified and unexpired): once. A used link is refused
   * (approval.link_used) and decides nothing; a link whose decision is refused stays unused.
   */
  async redeemLink(claims: LinkClaims, request?: HttpRequestRecord): Promise<DecisionResult | null> {
    if (!this.owned(claims.tenantId)) return null;
    return this.change((): DecisionResult => {
      const now = Date.now();
      if (this.store.gates.linkUsed(claims.linkId)) return refuse("approval.link_used");
      const decision = claims.decision === "approve" ? "approved" : "rejected";
      const by: Decider = {
        kind: "link",
        linkId: claims.linkId,
        ...(claims.issuedTo ? { issuedTo: claims.issuedTo } : {}),
      };
      const answer = this.engine.gates.withRequest(request, () =>
        this.engine.decide(claims.stepId, decision, by, null, null, now),
      );
      if (answer.ok && !answer.decision.repeated) this.store.gates.useLink(claims.linkId, claims.stepId, now);
      // The same decision made some other way first: this link decided nothing.
      return answer.ok && answer.decision.repeated
        ? refuse("approval.already_decided", "the gate was decided already")
        : answer;
    });
  }

  /**
   * Decision links for a waiting gate, issued to `key` (approvals:grant, checked by the API; the
   * gate's approvers and the requester rule checked here). Changes nothing. Null: no such run.
   */
  async decisionLinks(tenantId: string, stepId: string, key: DeciderKey): Promise<LinksResult | null> {
    if (!this.owned(tenantId)) return null;
    return this.engine.links(stepId, key, Date.now());
  }

  /** A signal for the run (`POST /v1/runs/{id}/signals/{name}`). Null when the tenant has no such run. */
  async signal(
    tenantId: string,
    name: string,
    body: Json,
    by: Decider,
    request?: HttpRequestRecord,
  ): Promise<SignalResult | null> {
    if (!this.owned(tenantId)) return null;
    const found: Redaction[] = [];
    const clean = await redactSignal(name, body, this.fingerprint, found);
    return this.change(() => {
      const now = Date.now();
      const answer = this.engine.gates.withRequest(request, () => this.engine.signal(name, clean, by, now));
      if (answer.ok && !answer.repeated) this.redacted(found, now, null, { signal: name });
      return answer;
    });
  }

  /** Called by the tenant's object when it admits this run (a concurrency slot freed). */
  async start(): Promise<void> {
    await this.change(() => this.engine.admit(Date.now()));
  }

  /** Called by a concurrency key's object: the run holds a slot of `key` now (flow-gate.ts). Idempotent. */
  async granted(tenantId: string, key: string): Promise<void> {
    if (this.owned(tenantId)) await this.change(() => this.engine.keysAnswered([], [key], Date.now()));
  }

  /** Whether the run still holds or waits for `key`: its object reclaims the slot of a run gone. */
  async holdsKey(tenantId: string, key: string): Promise<boolean> {
    return this.owned(tenantId) !== null && this.engine.flow.holds(key);
  }

  /** A later request of this debounced run's window (debounce-gate.ts): taken (with the run's view), or too late. */
  async takeDebounced(tenantId: string, take: DebounceTake): Promise<{ result: TakeResult; run: WireRun | null }> {
    if (this.store.run() && !this.owned(tenantId)) return { result: "ended", run: null };
    const result = await this.change(() => this.engine.flow.debounce.take(take));
    return { result, run: await this.get(tenantId) };
  }

  /** Called by a step key's object: the step holds a slot, or a token for an attempt (step-flow.ts). Idempotent. */
  async stepGranted(tenantId: string, grant: StepGrant): Promise<void> {
    if (this.owned(tenantId)) await this.change(() => this.engine.stepFlow.granted(grant, Date.now()));
  }

  /** Whether the step still holds or waits for a slot of `key`: its object reclaims the slot of a step gone. */
  async holdsStepKey(tenantId: string, key: string, stepId: string): Promise<boolean> {
    return this.owned(tenantId) !== null && this.engine.stepFlow.holds(stepId, key);
  }

  /** What a retry of this run needs; the first call records `newRunId` as its retry. */
  async retrySource(tenantId: string, newRunId: string, actor?: ControlActor): Promise<RetrySource | null> {
    if (!this.owned(tenantId)) return null;
    return this.change(() => retrySource(this.store, newRunId, Date.now(), actor));
  }

  /**
   * Deletes the run for good: its artifacts and archive in R2, then its object's storage. Only a
   * finished run whose events have all been handed to its tenant (pending webhook deliveries live
   * there, not here); otherwise `run.active`. Idempotent, and safe to call again after a crash:
   * the object's rows go last, so a purge cut short is found and finished by the next call.
   * Null when the tenant has no such run here (never was, or already emptied).
   */
  async purge(tenantId: string): Promise<{ ok: true; deleted: number } | Refusal<"run.active"> | null> {
    return this.lifecycle.purge(tenantId);
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
  async attemptScope(
    stepId: string,
    attempt: number,
    pool: string,
  ): Promise<{ tenantId: string; scanning: RunScanning; output?: Record<string, unknown> } | null> {
    const run = this.store.run();
    const step = this.store.step(stepId);
    // A tenant job type's step is served by the tenant's pool the run pinned, not the `external` one.
    const pinned = step?.worker ? json.read<PinnedJobType>(step.worker) : null;
    return run && step && (pinned?.pool ?? step.pool) === pool && step.attempt === attempt && step.status === "running"
      ? { tenantId: run.tenant_id, scanning: runScanning(run), ...(pinned ? { output: pinned.output } : {}) }
      : null;
  }

  /** A tenant pool found this queued attempt unroutable (./unroutable.ts); false: no longer queued. */
  async noteUnroutable(stepId: string, attempt: number, note: UnroutableNote): Promise<boolean> {
    return this.change(() => noteUnroutable(this.store, stepId, attempt, note, Date.now(), 2_000));
  }

  /** Called by a running handler: extends its lease; refused when the attempt should stop. */
  async heartbeat(stepId: string, attempt: number): Promise<HeartbeatResult> {
    return this.change(() => this.engine.heartbeat(stepId, attempt, Date.now()));
  }

  /** Called by an external worker giving its attempt back: dispatched again at once (release.ts). */
  async release(stepId: string, attempt: number): Promise<ReleaseResult> {
    return this.change(() => this.engine.attempts.release(stepId, attempt, Date.now()));
  }

  /** Called by a queue consumer before it runs an attempt. */
  async begin(stepId: string, attempt: number): Promise<BeginResult> {
    return this.change(() => this.engine.begin(stepId, attempt, Date.now()));
  }

  /**
   * Called by a worker with an attempt's outcome; a stale attempt is refused. With
   * `continueIn`, a step the outcome made ready in that pool is begun in the same transaction
   * and handed back to run at once: one call per step instead of a queue trip and a begin.
   */
  async report(reported: StepReport, continueIn?: PoolName): Promise<ReportResult> {
    const found: Redaction[] = [];
    const report = await redactReport(reported, this.fingerprint, found);
    const tenantJobs = await spawnedTenantJobs(this.env, this.store.run()?.tenant_id, report);
    return this.change(() => {
      const now = Date.now();
      const before = continueIn ? this.store.lastOutboxId() : 0;
      const answer = this.engine.report(report, now, tenantJobs);
      if (answer.ok) this.redacted(found, now, report.stepId, { attempt: report.attempt });
      const next = answer.ok && continueIn ? this.engine.continueIn(continueIn, before, now) : null;
      return next ? { ...answer, next } : answer;
    }, true);
  }

  /** Called by a dead-letter consumer: the queue gave up on this attempt's message. */
  async deadLettered(stepId: string, attempt: number): Promise<ReportResult> {
    return this.change(() => this.engine.deadLettered(stepId, attempt, Date.now()));
  }

  /**
   * One alarm serves every timer row. Idempotent: rows are deleted as they are handled. The
   * archive timer is the object's own (archive.ts): it ends with the object's storage.
   */
  override async alarm(): Promise<void> {
    this.alarmClock.fired();
    const now = Date.now();
    const due = this.store.dueTimers(now);
    await this.change(() => {
      for (const timer of due) if (timer.kind !== "archive") this.engine.fire(timer, now);
    });
    if (due.some((t) => t.kind === "archive")) await this.lifecycle.archive(now);
  }

  /**
   * Sets the archive timer of a run that finished before retention (archive.ts, `backfillArchive`),
   * under `retention`, its project's policy now; its alarm then archives it. Asked by its tenant's
   * backfill pass; true when the run had no timer and now has one.
   */
  async backfillArchive(tenantId: string, retention: RunRetention): Promise<boolean> {
    return this.owned(tenantId) ? this.lifecycle.backfill(retention) : false;
  }

  /**
   * The alarm to the earliest timer. Left to the tenant lane's move (`deferrable`) only while it
   * is set to come within the outbox's retry period: were the object to die before that move,
   * nothing due waits longer than a lost send already may, and the alarm that comes moves it.
   */
  private moveAlarm(deferrable: boolean): Promise<void> {
    const at = this.alarmClock.dueAt;
    if (deferrable && at !== null && at <= Date.now() + engineConfig(this.env).outboxRetryMs) return Promise.resolve();
    return this.alarmClock.sync(this.store.nextTimer());
  }

  private owned(tenantId: string) {
    const run = this.store.run();
    return run && run.tenant_id === tenantId ? run : null;
  }

  /**
   * Every change an RPC makes: one engine decision in its transaction (`mutate`), then the outbox
   * sends what it wrote and the alarm moves to the earliest timer (`settle`), then the answer.
   */
  private async change<T>(decide: () => T, report = false): Promise<T> {
    const result = this.mutate(decide, report);
    await this.outbox.settle();
    return result;
  }

  /** Fingerprints of redacted secrets, under the run's tenant's key (read only when one is found). */
  private readonly fingerprint: Fingerprint = (ruleId, secret) =>
    tenantFingerprint(this.env.FINGERPRINT_KEY, this.store.existingRun().tenant_id)(ruleId, secret);

  /** Records where secrets were redacted from what the run was just told (not a webhook event). */
  private redacted(found: Redaction[], now: number, stepId: string | null, extra: Record<string, unknown>): void {
    if (found.length > 0) this.store.appendEvent("secret.redacted", now, stepId, redactedEventData(found, extra));
  }

  /** `report`: a step's report; one that handed back a continuation lets its endings' points wait (analytics.ts). */
  private mutate<T>(decide: () => T, report = false): T {
    let result: T;
    try {
      result = this.ctx.storage.transactionSync(() => {
        this.store.beginTransaction();
        this.outbox.forgetSent();
        const decided = decide();
        this.store.commit();
        return decided;
      });
    } catch (err) {
      this.store.forgetCaches(); // they may hold what was just rolled back
      throw err;
    }
    this.waiters.wakeAll();
    const continued = report && (result as ReportResult).ok && (result as { next?: unknown }).next !== undefined;
    const { points, last, more } = pointsSince(
      this.store,
      this.analyzedSeq,
      this.pointContext,
      this.pointsBehind,
      MAX_POINTS_PER_CALL,
      continued ? CONTINUATION_POINTS_BATCH : 0,
    );
    this.analyzedSeq = last;
    writePoints(this.env.ANALYTICS, points);
    // The rest of a mass ending's points go in a later invocation, the alarm's (a timer row only then).
    if (more)
      this.ctx.storage.transactionSync(() => {
        this.store.beginTransaction();
        this.store.setTimer("outbox", "points", Date.now() + POINTS_FOLLOW_MS);
        this.store.commit();
      });
    this.pointsBehind = more;
    return result;
  }
}
