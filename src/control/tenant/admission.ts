/**
 * A tenant's runs coming and going: what it decides before a run is created (Idempotency-Key,
 * budget, the month's quota, its place in the index, admission: `open`), what it follows of a
 * run's status and charges for its end (`record`, `settle`), and its running-run slots. The rows
 * are the run book's (runs.ts); the policies are the profile's, budgets', scanning's and
 * retention's.
 */
import { type Refusal, refuse } from "../../../schema/errors";
import type { RunRetention } from "../../../schema/retention";
import type { TenantSync } from "../../../schema/run";
import type { RunScanning } from "../../../schema/scanning";
import type { Tenant } from "../../../schema/tenants";
import type { Priority } from "../../../schema/vocabulary";
import { cost, type PriceTable } from "../../analytics/prices";
import type { MetricParts } from "../metrics";
import { runStub } from "../run/stub";
import type { ArtifactVersions } from "./artifacts";
import { type BudgetBook, type Crossing, untilNextMonth } from "./budgets";
import type { TenantHost } from "./host";
import type { TenantProfile } from "./profile";
import type { RetentionBook } from "./retention";
import { OPENED_CHECK_MS, type OpenedRun, type RunBook } from "./runs";
import type { ScanningBook } from "./scanning";
import type { ShardRing } from "./shard-ring";
import { concurrencyShare, owningShard, share, shardCount, sumByProject } from "./shards";

export type OpenRunResult =
  | {
      ok: true;
      runId: string;
      replayed: boolean;
      start: boolean;
      scanning: RunScanning;
      /** The project's retention as it stands now: the run archives itself `hotMs` after it finishes. */
      retention: RunRetention;
      /** Set when a spent budget in cost-saving mode admitted the run: its priority and agent model. */
      costSaving?: { priority: Priority; model: string | null };
      /** The tenant's shard count, when it has more than one (the API routes its next runs by it). */
      shards?: number;
    }
  /** The run belongs on another of the tenant's `shards` (its Idempotency-Key's owner): nothing was written. */
  | { ok: false; reroute: number }
  | Refusal<
      | "auth.unauthenticated"
      | "tenant.suspended"
      | "rate.limited"
      | "auth.insufficient_scope"
      | "idempotency.conflict"
      | "quota.exceeded"
      | "budget.exceeded"
    >;

/** Runs asked for their steps in flight per metrics request: about the concurrency limit. */
const MAX_BACKLOG_RUNS = 200;

/** The books and neighbours admission reads and writes. */
export interface AdmissionParts {
  profile: TenantProfile;
  runs: RunBook;
  budgets: BudgetBook;
  scanning: ScanningBook;
  retention: RetentionBook;
  versions: ArtifactVersions;
  ring: ShardRing;
  prices: PriceTable;
  /** Crossed budget thresholds go to the tenant's webhooks. */
  announce(crossings: Crossing[]): Promise<void>;
  /** A new retention deadline: the alarm comes by then (upkeep.ts). */
  noteDeadline(at: number): Promise<void>;
}

export class Admission {
  constructor(
    private readonly host: TenantHost,
    private readonly p: AdmissionParts,
  ) {}

  /**
   * Everything the tenant decides before a run is created, in one call: the Idempotency-Key
   * (a replay names the first request's run), the month's quota, the run's place in the index,
   * and admission. An admitted run is created already running. `checked`: the caller's key was
   * checked in this same call (`Access.refusal`).
   */
  async open(
    run: OpenedRun,
    idempotency: { key: string; bodyHash: string } | undefined,
    checked: boolean,
  ): Promise<OpenRunResult> {
    const { runs, retention, scanning } = this.p;
    const shard = this.host.shard;
    const now = Date.now();
    const tenant = this.p.profile.get();
    // A shard home never told of (the API's count is from before the tenant was recreated with
    // fewer shards): home knows the count.
    if (!tenant) return shard === 0 ? refuse("auth.unauthenticated") : { ok: false, reroute: 1 };
    // A sharded tenant's run opens on the shard that owns its Idempotency-Key (./shards.ts).
    const shards = shardCount(tenant);
    if (owningShard(idempotency?.key, shards, shard) !== shard) return { ok: false, reroute: shards };
    // Asked without a key check (a sharded tenant's key passed the isolate's cache), a shard
    // still refuses for a suspended tenant: home pushed the status to it on the change.
    if (!checked && tenant.status === "suspended") return refuse("tenant.suspended");
    const sharded = shards > 1 ? { shards } : {};
    const context = shards > 1 || shard !== 0 ? await this.p.ring.projectContext(run.project, now) : null;
    const answer = (runId: string, replayed: boolean, start: boolean) => ({
      ok: true as const,
      runId,
      replayed,
      start,
      // The run scans its artifacts under the project's policy as it stands now.
      scanning: context?.scanning ?? scanning.forRun(run.project),
      retention: retention.forRun(run.project),
      ...sharded,
    });
    if (idempotency) {
      const claim = runs.claim(idempotency.key, idempotency.bodyHash, run.runId, now);
      if (!claim.ok) return claim;
      // A replay: the first request opened its run (or its object will say it never existed).
      if (claim.replayed) return answer(claim.runId, true, false);
    }
    // A spent budget refuses before the quota counts the run: a refused run costs no quota.
    const budget = context?.verdict ?? this.p.budgets.verdict(run.project, now);
    if (budget.action === "block") {
      if (idempotency) runs.release(idempotency.key, run.runId);
      const whose = budget.budget.project === null ? "tenant's" : `project '${budget.budget.project}'`;
      return {
        ...refuse(
          "budget.exceeded",
          `The ${whose} budget of $${budget.budget.limitUsd} for ${budget.budget.month} is spent.`,
        ),
        retryAfterMs: untilNextMonth(now),
        extensions: { budget: budget.budget },
      };
    }
    const costSaving = budget.action === "cost-saving" ? { priority: "low" as const, model: budget.model } : undefined;
    // Each shard counts its share of the quota: the shares add up to the quota exactly.
    if (!runs.reserve(now, share(tenant.limits.monthlyRuns, shards, shard))) {
      if (idempotency) runs.release(idempotency.key, run.runId);
      // Try again when the next month (UTC) begins.
      return { ...refuse("quota.exceeded"), retryAfterMs: untilNextMonth(now) };
    }
    const opened = runs.open(
      costSaving ? { ...run, priority: costSaving.priority } : run,
      { open: tenant.status === "active", limit: this.concurrency(tenant, now, run.project) },
      now,
    );
    // The alarm must come by the time this run is to be checked on (or start the runs let in);
    // one already due by then will reschedule itself.
    const alarmAt = this.host.alarm.dueAt;
    if (opened.admitted.length > 0 || alarmAt === null || alarmAt > now + OPENED_CHECK_MS) await this.host.syncAlarm();
    return { ...answer(run.runId, false, opened.start), ...(costSaving ? { costSaving } : {}) };
  }

  /**
   * The tenant's running-run slots now: `maxConcurrentRuns` for each unit of weight (weighted fair
   * dispatch: a saturated pool serves tenants by their runs in flight, see docs/security.md), and
   * half that (at least one) while a spent budget puts it in cost-saving mode.
   */
  private concurrency(tenant: Tenant, now: number, project = ""): number {
    // A sharded tenant's slots are split among its shards (./shards.ts: each has at least one).
    const limit = concurrencyShare(
      tenant.limits.maxConcurrentRuns * tenant.weight,
      shardCount(tenant),
      this.host.shard,
    );
    return this.p.ring.verdictNow(project, now).action === "cost-saving" ? Math.max(1, Math.floor(limit / 2)) : limit;
  }

  /** Lets in waiting runs up to the tenant's slots, if it is active. */
  admit(tenant: Tenant | null = this.p.profile.get()): void {
    if (tenant?.status === "active") this.p.runs.admit(this.concurrency(tenant, Date.now()));
  }

  /**
   * Follows a run's status, and answers whether it may start now (admission). Runs that a
   * finished run's slot lets in are started by the alarm.
   */
  async record(sync: TenantSync): Promise<{ start: boolean }> {
    const tenant = this.p.profile.get();
    const periods = this.p.retention.of(sync.project);
    const home = this.host.shard === 0;
    // A shard keeps a final sync's publication and charge for home, in the transaction that
    // records the run; its alarm hands them over in batches (`ShardRing.settleAtHome`).
    this.p.ring.keep(sync);
    const crossings = home ? this.settle(sync, periods) : [];
    const result = this.p.runs.record(
      sync,
      { open: tenant?.status === "active", limit: tenant ? this.concurrency(tenant, sync.at) : 0 },
      periods,
    );
    if (crossings.length > 0) await this.p.announce(crossings);
    else if (result.admitted.length > 0 || !home) await this.host.syncAlarm();
    // A finished run's first deadline (its unpublished artifacts', or a version it superseded):
    // no query, and an alarm call only when the alarm is set for later.
    if (sync.usage)
      await this.p.noteDeadline(
        sync.at + (sync.published ? Math.min(periods.unpublishedMs, periods.supersededMs) : periods.unpublishedMs),
      );
    return { start: result.start };
  }

  /** A final sync's parts that live at home: artifact versions and the budget charge (each once per run). */
  settle(sync: TenantSync, periods = this.p.retention.of(sync.project)): Crossing[] {
    // A succeeded run publishes its artifacts: each gets its version (once, however often this comes).
    if (sync.status === "succeeded" && sync.published)
      this.p.versions.publish(sync.project, sync.runId, sync.published, sync.at, periods.supersededMs);
    // A run's final sync carries its usage: its cost is charged here, once, in the month it ended.
    return sync.usage
      ? this.p.budgets.charge({
          runId: sync.runId,
          project: sync.project,
          at: sync.at,
          usd: cost(sync.usage, this.p.prices),
        })
      : [];
  }

  /** Home settles final syncs that a shard recorded (see `record`); each run once, however often it comes. */
  async settleRuns(syncs: TenantSync[]): Promise<void> {
    if (this.host.shard !== 0) return;
    await this.p.announce(syncs.flatMap((sync) => this.settle(sync)));
  }

  /**
   * The alarm's part: opened runs never heard of are checked (a run whose object does not exist
   * was never created, and the slot it held goes to the next waiting run), then admitted runs start.
   */
  async startDue(): Promise<void> {
    const { runs } = this.p;
    const { env, tenantId } = this.host;
    let freed = false;
    for (const runId of runs.unconfirmed(Date.now() - OPENED_CHECK_MS)) {
      if (await runStub(env, runId).get(tenantId)) {
        runs.confirmed(runId);
        continue;
      }
      runs.forget(runId);
      freed = true;
    }
    if (freed) this.admit();
    for (const runId of runs.toStart()) {
      await runStub(env, runId).start();
      runs.markStarted(runId);
    }
  }

  /**
   * What metrics need of the runs this object indexes: those finished in [from, to), and what is
   * in flight now (each running run is asked for its steps in flight, by pool).
   */
  async metricsHere(from: number, to: number): Promise<Pick<MetricParts, "finished" | "now" | "backlog">> {
    const { runs } = this.p;
    const backlog = await Promise.all(
      runs.active(MAX_BACKLOG_RUNS).map((id) =>
        runStub(this.host.env, id)
          .backlog()
          .catch(() => []),
      ),
    );
    return { finished: runs.finished(from, to), now: runs.counts(), backlog: backlog.flat() };
  }

  /** Running runs by project across the tenant's shards (each shard's `runningHere`). */
  async runningByProject(): Promise<Map<string, number>> {
    const here = Object.fromEntries(this.p.runs.runningByProject());
    const all = await this.p.ring.merged(
      here,
      (s) => s.runningHere(),
      (parts) => Object.fromEntries(sumByProject(parts)),
    );
    return new Map(Object.entries(all));
  }
}
