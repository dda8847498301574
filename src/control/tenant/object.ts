/**
 * The Tenant Durable Object: one per tenant, addressed by tenant id. It holds the tenant's
 * record and limits, API key hashes, run index and admission, idempotency keys, and webhook
 * endpoints and deliveries. Nothing here is global: a key names its tenant, so authentication,
 * admission and rate limiting only ever touch that tenant's own object.
 */
import { DurableObject } from "cloudflare:workers";
import type { RunSummary } from "../../../schema/api";
import type {
  CreateKeyBody,
  CreateTenantBody,
  CreatedKey,
  Scope,
  Tenant,
  UpdateTenantBody,
} from "../../../schema/tenants";
import { refuse, type Refusal } from "../../../schema/errors";
import { SCOPES } from "../../../schema/tenants";
import type { CreateWebhookBody, Delivery, UpdateWebhookBody } from "../../../schema/webhooks";
import type { Env } from "../../env";
import { TokenBucket } from "../../lib/token-bucket";
import { deliveryPolicy } from "../../webhooks/config";
import { runStub } from "../run/stub";
import { directoryShard } from "../directory/shards";
import { Alarm } from "../alarms";
import { migrate, type Migration } from "../sqlite";
import type { MetricParts } from "../metrics";
import { DEV_TENANT, PROFILE_MIGRATION, TenantProfile } from "./profile";
import {
  ARCHIVE_MIGRATION,
  LIVE_RUNS_MIGRATION,
  OPENED_CHECK_MS,
  RUN_BOOK_MIGRATION,
  RunBook,
  type ListRunsFilter,
  type OpenedRun,
} from "./runs";
import type { UsageGroup, UsageGroupRow } from "../../analytics/usage";
import type { AttemptResult, DeliveryPolicy, DeliveryTask } from "../../../schema/webhooks";
import { WEBHOOK_LINKS_MIGRATION, WEBHOOK_MIGRATION, WebhookBook, type PlannedEvent } from "./webhooks";
import { deleteRunRows } from "./run-deletion";
import { SCANNING_MIGRATION, ScanningBook } from "./scanning";
import { ARTIFACT_VERSION_MIGRATION, ArtifactVersions, type StoredVersion } from "./artifacts";
import type {
  AllowFingerprintBody,
  AllowedFingerprint,
  RunScanning,
  ScanAuditEntry,
  ScanPolicyBody,
  ScanSettings,
} from "../../../schema/scanning";
import { webhookPoint, writePoints } from "../../analytics/points";
import { logError } from "../../lib/log";
import { sendChunked } from "../../lib/queue-batch";
import type { TenantSync } from "../../../schema/run";
import type { ApprovalView } from "../../../schema/api";
import { APPROVALS_MIGRATION, ApprovalBook, type HandedEvent, type ListApprovalsFilter } from "./approvals";
import type { BudgetPolicy, BudgetReport } from "../../../schema/budgets";
import type { Priority } from "../../../schema/vocabulary";
import { cost, prices, type PriceTable } from "../../analytics/prices";
import { RETENTION_MIGRATION, RetentionBook } from "./retention";
import { homeChecks, Lifecycle, type RunChecks } from "./lifecycle";
import { PURGE_MIGRATION, PURGE_RUN_BATCH, PurgeBook, purgePass, purgeRunBatch, type OtherShards } from "./purge";
import type { RetentionPolicy, RetentionSettings, RunRetention } from "../../../schema/retention";
import type { PurgeProgress } from "../../../schema/tenants";
import { BUDGET_MIGRATION, BudgetBook, monthOf, untilNextMonth, type BudgetVerdict, type Crossing } from "./budgets";
import { quotaUsed, setQuotaUsed, Settlements, ShardSpan } from "./shard-span";
import {
  concurrencyShare,
  mergeMetricParts,
  mergeRunPages,
  mergeUsage,
  owningShard,
  parseShardName,
  quotaCounts,
  share,
  shardCount,
  shardName,
  SHARD_CONTEXT_MS,
  SHARDS_MIGRATION,
  sumByProject,
  sumCounts,
} from "./shards";

/** Runs asked for their steps in flight per metrics request: about the concurrency limit. */
const MAX_BACKLOG_RUNS = 200;

export const TENANT_MIGRATIONS: readonly Migration[] = [
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
  [...PROFILE_MIGRATION, ...RUN_BOOK_MIGRATION],
  LIVE_RUNS_MIGRATION,
  [...SCANNING_MIGRATION, ...ARTIFACT_VERSION_MIGRATION],
  APPROVALS_MIGRATION,
  BUDGET_MIGRATION,
  ARCHIVE_MIGRATION,
  [...RETENTION_MIGRATION, ...PURGE_MIGRATION],
  SHARDS_MIGRATION,
  WEBHOOK_LINKS_MIGRATION,
];

/** A refusal's message is what the API shows the caller: it never says which part of a key was wrong. */
export type AuthResult =
  | {
      ok: true;
      scopes: Scope[];
      key: { id: string; name: string | null };
      /** Rate tokens granted: 1, or up to what was asked for. */
      tokens: number;
    }
  | Refusal<"auth.unauthenticated" | "tenant.suspended" | "rate.limited">;

export type { ListRunsFilter, OpenedRun };

/** What the API presents for a key: its id and the hash of its secret, or (locally) the dev key it checked. */
export type Credential = { keyId: string; secretHash: string } | { dev: true };

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

/** Backoff of a failing send of due deliveries: 1 s, doubling, at most a minute. */
const SEND_BACKOFF_BASE_MS = 1_000;
const SEND_BACKOFF_MAX_MS = 60_000;

const earliest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));

export class TenantObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly profile: TenantProfile;
  private readonly runs: RunBook;
  private readonly webhooks: WebhookBook;
  private readonly approvals: ApprovalBook;
  private readonly budgets: BudgetBook;
  /** Read from the environment once: it does not change while the object lives. */
  private readonly prices: PriceTable;
  /** In memory on purpose: an evicted object starts with a full bucket, which only errs kindly. */
  private bucket: TokenBucket | null = null;
  /** Read from the environment once: it does not change while the object lives. */
  private readonly policy: DeliveryPolicy;
  private readonly alarmClock: Alarm;
  /**
   * Consecutive failed sends of due deliveries, and when to try again. In memory on purpose: an
   * evicted object tries again at its alarm, which is already set to the backoff.
   */
  private sendFailures = 0;
  private sendRetryAt = 0;

  private readonly scanning: ScanningBook;
  private readonly versions: ArtifactVersions;
  private readonly retention: RetentionBook;
  private readonly lifecycle: Lifecycle;
  private readonly purges: PurgeBook;
  /**
   * The earliest retention deadline (lifecycle.ts), kept so that setting the alarm costs no query;
   * undefined until first needed in this object's lifetime, and again after a change it cannot follow.
   */
  private lifecycleDue: number | null | undefined;
  /** Set once a purge deleted this object's storage: this instance answers as for no tenant. */
  private gone = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.profile = new TenantProfile(this.sql);
    this.runs = new RunBook(this.sql);
    this.webhooks = new WebhookBook(this.sql);
    this.scanning = new ScanningBook(this.sql);
    this.versions = new ArtifactVersions(this.sql);
    this.approvals = new ApprovalBook(this.sql);
    this.budgets = new BudgetBook(this.sql);
    this.retention = new RetentionBook(this.sql);
    this.lifecycle = new Lifecycle(
      this.sql,
      env.ARTIFACTS,
      this.tenantId,
      async (runId) => (await runStub(env, runId).get(this.tenantId))?.retriedAs ?? null,
      // A shard's runs' artifact versions and webhook deliveries live at home: one call a sweep batch (≤ 20 runs).
      async (runIds) =>
        this.shard === 0
          ? homeChecks(this.sql, this.tenantId, runIds)
          : env.TENANT.getByName(this.tenantId).retentionChecks(runIds),
    );
    this.purges = new PurgeBook(this.sql);
    this.prices = prices(env.PRICE_TABLE);
    this.policy = deliveryPolicy(env);
    this.alarmClock = new Alarm(ctx.storage);
    ctx.blockConcurrencyWhile(async () => {
      this.fresh = migrate(this.sql, TENANT_MIGRATIONS).created;
      await this.alarmClock.load();
    });
  }

  /** This instance made the object's schema: before it, the object held nothing (no such tenant). */
  private fresh = false;

  /**
   * A key naming a tenant that does not exist made this object: its storage goes again, so a caller
   * inventing tenant ids (any well-formed key reaches its tenant's object) leaves nothing behind,
   * and a purged tenant's old key does not bring back its object's tables. The instance then
   * answers as for a purged tenant (`gone`) until it is evicted.
   */
  private async forgetIfUnknown(): Promise<void> {
    // The local development tenant is made by the dev key's first use, which may come after a bad key.
    if (!this.fresh || this.gone || this.tenantId === DEV_TENANT || this.profile.get() !== null) return;
    await this.ctx.storage.deleteAll();
    this.gone = true;
  }

  /** The tenant's id: this object's name, less its shard suffix (./shards.ts). */
  private get tenantId(): string {
    return parseShardName(this.ctx.id.name ?? "").tenantId;
  }

  /** Which of the tenant's shards this object is: 0 for its own object (home). */
  private get shard(): number {
    return parseShardName(this.ctx.id.name ?? "").shard;
  }

  // ── the tenant and its keys ─────────────────────────────────────────────────

  async createTenant(body: Omit<CreateTenantBody, "id">): Promise<Tenant | null> {
    // A purged tenant's object still in memory holds caches of the old tenant: it starts afresh
    // (this call fails; the caller's next call reaches a new instance, migrated on an empty store).
    if (this.gone) this.ctx.abort("a purged tenant is created again");
    const tenant = this.profile.create(this.tenantId, body, Date.now());
    if (tenant) await this.pushToShards(tenant);
    return tenant;
  }

  async getTenant(): Promise<
    (Tenant & { runs: { running: number; waiting: number }; purge: PurgeProgress | null }) | null
  > {
    const tenant = this.gone ? null : this.profile.get();
    if (!tenant) return null;
    const others = await Promise.all(
      this.otherShards().map((s) => s.getTenant().then((t) => t?.runs ?? sumCounts([]))),
    );
    return { ...tenant, runs: sumCounts([this.runs.counts(), ...others]), purge: this.purges.progress() };
  }

  // ── the tenant's shards (./shards.ts) ───────────────────────────────────────

  private settlementBook: Settlements | undefined;
  private get settlements(): Settlements {
    this.settlementBook ??= new Settlements(this.sql);
    return this.settlementBook;
  }

  private spanBook: ShardSpan | undefined;
  private get span(): ShardSpan {
    this.spanBook ??= new ShardSpan(this.sql);
    return this.spanBook;
  }

  /** Home's view of its other shards: every one that ever held runs (none for a one-shard tenant). */
  private otherShards(): DurableObjectStub<TenantObject>[] {
    if (this.shard !== 0) return [];
    const high = this.span.high();
    return Array.from({ length: Math.max(0, high - 1) }, (_, i) =>
      this.env.TENANT.getByName(shardName(this.tenantId, i + 1)),
    );
  }

  /**
   * Home sends the tenant's record to each shard (on create and update: N calls on a rare admin
   * write). When the shard count changed, the month's quota is re-dealt: home reads what each
   * shard counted, and sets each one's count so that what is left of the month's quota is split
   * by the new shares (`quotaCounts`); runs opened while this call is under way may go over by
   * their number.
   */
  private async pushToShards(tenant: Tenant, resharded = false): Promise<void> {
    if (this.shard !== 0) return;
    const n = shardCount(tenant);
    if (n > 1) this.span.raise(n);
    const others = this.otherShards();
    // Shards follow home's retention policy: their runs' deadlines are set where they are indexed.
    const retention = this.retention.policy();
    let counts: (number | undefined)[] = [];
    const month = monthOf(Date.now());
    if (resharded) {
      const used = [quotaUsed(this.sql, month), ...(await Promise.all(others.map((s) => s.quotaUsed(month))))];
      counts = quotaCounts(tenant.limits.monthlyRuns, n, used);
      setQuotaUsed(this.sql, month, counts[0] ?? 0);
    }
    await Promise.all(
      others.map((s, i) => {
        const runs = counts[i + 1];
        return s.mirrorTenant(tenant, runs === undefined ? undefined : { month, runs }, retention);
      }),
    );
  }

  /** This object's count of the month's runs (home re-deals the quota when the shard count changes). */
  async quotaUsed(month: string): Promise<number> {
    return quotaUsed(this.sql, month);
  }

  /** A shard takes its tenant's record from home; a reactivated tenant or a raised limit starts waiting runs. */
  async mirrorTenant(
    tenant: Tenant,
    quota?: { month: string; runs: number },
    retention?: RetentionPolicy,
  ): Promise<void> {
    if (this.shard === 0) return;
    if (quota) setQuotaUsed(this.sql, quota.month, quota.runs);
    if (retention) this.retention.set(retention);
    this.profile.mirror(tenant);
    const mirrored = this.profile.get();
    if (mirrored?.status === "active") this.runs.admit(this.concurrency(mirrored, Date.now()));
    await this.syncAlarm();
  }

  /** What a shard asks home before opening a run of a project: its budget verdict and scanning policy. */
  async shardContext(project: string): Promise<{ verdict: BudgetVerdict; scanning: RunScanning }> {
    return { verdict: this.budgets.verdict(project, Date.now()), scanning: this.scanning.forRun(project) };
  }

  /** A shard's memory of home's answers, each kept SHARD_CONTEXT_MS (in memory: eviction only asks again). */
  private readonly contexts = new Map<string, { at: number; verdict: BudgetVerdict; scanning: RunScanning }>();

  private async projectContext(
    project: string,
    now: number,
  ): Promise<{ verdict: BudgetVerdict; scanning: RunScanning }> {
    if (this.shard === 0)
      return { verdict: this.budgets.verdict(project, now), scanning: this.scanning.forRun(project) };
    const kept = this.contexts.get(project);
    if (kept && now - kept.at < SHARD_CONTEXT_MS) return kept;
    const fresh = await this.env.TENANT.getByName(this.tenantId).shardContext(project);
    if (this.contexts.size >= 1_000) this.contexts.clear();
    this.contexts.set(project, { at: now, ...fresh });
    return fresh;
  }

  /** The budget verdict as this shard knows it (home's own, or what home last said). */
  private verdictNow(project: string, now: number): BudgetVerdict {
    if (this.shard === 0) return this.budgets.verdict(project, now);
    return this.contexts.get(project)?.verdict ?? { action: "none" };
  }

  /** The latest published version of each artifact of a project. */
  async projectArtifacts(project: string): Promise<StoredVersion[]> {
    return this.versions.latest(project);
  }

  /** Versions of one artifact, newest first; `before` pages on. */
  async artifactVersions(project: string, name: string, limit: number, before?: number): Promise<StoredVersion[]> {
    return this.versions.versions(project, name, limit, before);
  }

  async artifactVersion(project: string, name: string, version: number): Promise<StoredVersion | null> {
    return this.versions.version(project, name, version);
  }

  /** Secret scanning: the tenant's default and per-project policies (null: no such tenant). */
  async scanSettings(): Promise<ScanSettings | null> {
    return this.profile.get() ? this.scanning.settings() : null;
  }

  async setScanPolicy(body: ScanPolicyBody): Promise<ScanSettings | null> {
    return this.profile.get() ? this.scanning.setPolicy(body, Date.now()) : null;
  }

  /** Accepts a reviewed finding for a project (audited); `full` when the project's list is full. */
  async allowFingerprint(body: AllowFingerprintBody): Promise<AllowedFingerprint | "full" | null> {
    if (!this.profile.get()) return null;
    return this.scanning.allow(body.project, body.fingerprint, body.reason, Date.now()) ?? "full";
  }

  async disallowFingerprint(project: string, fingerprint: string): Promise<boolean | null> {
    return this.profile.get() ? this.scanning.disallow(project, fingerprint, Date.now()) : null;
  }

  async scanAllowList(project?: string): Promise<{ items: AllowedFingerprint[]; audit: ScanAuditEntry[] } | null> {
    return this.profile.get() ? this.scanning.allowList(project) : null;
  }

  /** Changes status, limits or weight; a reactivated tenant or a raised limit starts waiting runs. */
  async updateTenant(patch: UpdateTenantBody): Promise<Tenant | "purging" | null> {
    if (this.purges.purging) return "purging";
    const before = this.profile.get();
    const tenant = this.profile.update(patch, Date.now());
    if (tenant?.status === "active") this.runs.admit(this.concurrency(tenant, Date.now()));
    await this.syncAlarm();
    if (tenant) await this.pushToShards(tenant, before !== null && shardCount(before) !== shardCount(tenant));
    return tenant;
  }

  async createKey(body: CreateKeyBody): Promise<CreatedKey | "purging" | null> {
    if (!this.profile.get()) return null;
    if (this.purges.purging) return "purging";
    return this.profile.createKey(this.tenantId, body, Date.now(), this.env.KEY_MAC_KEY);
  }

  async listKeys() {
    return this.profile.get() ? this.profile.listKeys() : null;
  }

  async revokeKey(keyId: string): Promise<boolean> {
    return this.profile.revokeKey(keyId, Date.now());
  }

  async rotateKey(keyId: string, overlapMs: number): Promise<CreatedKey | null> {
    return this.profile.rotateKey(this.tenantId, keyId, overlapMs, Date.now(), this.env.KEY_MAC_KEY);
  }

  /**
   * An API request's key (or, locally, the dev key the Worker already checked), the tenant's
   * status, and tokens from its rate limit bucket: one, or up to `tokens` for an isolate that
   * caches the answer and spends them on its next requests (src/api/key-cache.ts).
   */
  async authenticate(presented: Credential, tokens = 1): Promise<AuthResult> {
    const result = this.check(presented, Date.now(), tokens);
    if (!result.ok) await this.forgetIfUnknown();
    return result;
  }

  private check(presented: Credential, now: number, tokens = 1): AuthResult {
    if (this.gone) return refuse("auth.unauthenticated");
    let tenant = this.profile.get();
    if (!tenant && "dev" in presented && this.tenantId === DEV_TENANT)
      tenant = this.profile.create(DEV_TENANT, { name: "Local development" }, now);
    if (!tenant) return refuse("auth.unauthenticated");
    const verified =
      "dev" in presented
        ? { scopes: [...SCOPES], name: "dev" }
        : this.profile.verifyKey(presented.keyId, presented.secretHash, now);
    if (!verified) return refuse("auth.unauthenticated");
    const { scopes } = verified;
    const key = { id: "dev" in presented ? "dev" : presented.keyId, name: verified.name };
    if (tenant.status === "suspended") return refuse("tenant.suspended");
    this.bucket ??= new TokenBucket(tenant.limits.requestsPerMinute, now);
    const token = this.bucket.takeUpTo(Math.max(1, Math.min(tokens, 64)), tenant.limits.requestsPerMinute, now);
    if (!token.ok) return { ...refuse("rate.limited"), retryAfterMs: token.retryAfterMs };
    return { ok: true, scopes, key, tokens: token.granted };
  }

  // ── runs ─────────────────────────────────────────────────────────────────────

  /**
   * Everything the tenant decides before a run is created, in one call: the Idempotency-Key
   * (a replay names the first request's run), the month's quota, the run's place in the index,
   * and admission. An admitted run is created already running.
   */
  async openRun(
    run: OpenedRun,
    idempotency?: { key: string; bodyHash: string },
    presented?: Credential,
  ): Promise<OpenRunResult> {
    const now = Date.now();
    // The API's key check, when it deferred it to this call (one object call per new run, not two).
    if (presented) {
      const auth = this.check(presented, now);
      if (!auth.ok) {
        await this.forgetIfUnknown();
        return auth;
      }
      if (!auth.scopes.includes("runs:write"))
        return refuse("auth.insufficient_scope", "This key lacks the 'runs:write' scope.");
    }
    const tenant = this.profile.get();
    // A shard home never told of (the API's count is from before the tenant was recreated with
    // fewer shards): home knows the count.
    if (!tenant) return this.shard === 0 ? refuse("auth.unauthenticated") : { ok: false, reroute: 1 };
    // A sharded tenant's run opens on the shard that owns its Idempotency-Key (./shards.ts).
    const shards = shardCount(tenant);
    if (owningShard(idempotency?.key, shards, this.shard) !== this.shard) return { ok: false, reroute: shards };
    // Asked without a key check (a sharded tenant's key passed the isolate's cache), a shard
    // still refuses for a suspended tenant: home pushed the status to it on the change.
    if (!presented && tenant.status === "suspended") return refuse("tenant.suspended");
    const sharded = shards > 1 ? { shards } : {};
    const context = shards > 1 || this.shard !== 0 ? await this.projectContext(run.project, now) : null;
    if (idempotency) {
      const claim = this.runs.claim(idempotency.key, idempotency.bodyHash, run.runId, now);
      if (!claim.ok) return claim;
      // A replay: the first request opened its run (or its object will say it never existed).
      if (claim.replayed)
        return {
          ok: true,
          runId: claim.runId,
          replayed: true,
          start: false,
          scanning: context?.scanning ?? this.scanning.forRun(run.project),
          retention: this.retention.forRun(run.project),
          ...sharded,
        };
    }
    // A spent budget refuses before the quota counts the run: a refused run costs no quota.
    const budget = context?.verdict ?? this.budgets.verdict(run.project, now);
    if (budget.action === "block") {
      if (idempotency) this.runs.release(idempotency.key, run.runId);
      return {
        ...refuse(
          "budget.exceeded",
          `The ${budget.budget.project === null ? "tenant's" : `project '${budget.budget.project}'`} budget of $${budget.budget.limitUsd} for ${budget.budget.month} is spent.`,
        ),
        retryAfterMs: untilNextMonth(now),
        extensions: { budget: budget.budget },
      };
    }
    const costSaving = budget.action === "cost-saving" ? { priority: "low" as const, model: budget.model } : undefined;
    // Each shard counts its share of the quota: the shares add up to the quota exactly.
    if (!this.runs.reserve(now, share(tenant.limits.monthlyRuns, shards, this.shard))) {
      if (idempotency) this.runs.release(idempotency.key, run.runId);
      // Try again when the next month (UTC) begins.
      return { ...refuse("quota.exceeded"), retryAfterMs: untilNextMonth(now) };
    }
    const opened = this.runs.open(
      costSaving ? { ...run, priority: costSaving.priority } : run,
      { open: tenant.status === "active", limit: this.concurrency(tenant, now, run.project) },
      now,
    );
    // The alarm must come by the time this run is to be checked on (or start the runs let in);
    // one already due by then will reschedule itself.
    const alarmAt = this.alarmClock.dueAt;
    if (opened.admitted.length > 0 || alarmAt === null || alarmAt > now + OPENED_CHECK_MS) await this.syncAlarm();
    return {
      ok: true,
      runId: run.runId,
      replayed: false,
      start: opened.start,
      // The run scans its artifacts under the project's policy as it stands now.
      scanning: context?.scanning ?? this.scanning.forRun(run.project),
      retention: this.retention.forRun(run.project),
      ...(costSaving ? { costSaving } : {}),
      ...sharded,
    };
  }

  /**
   * The tenant's running-run slots now: `maxConcurrentRuns` for each unit of weight (weighted fair
   * dispatch: a saturated pool serves tenants by their runs in flight, see docs/security.md), and
   * half that (at least one) while a spent budget puts it in cost-saving mode.
   */
  private concurrency(tenant: Tenant, now: number, project = ""): number {
    // A sharded tenant's slots are split among its shards (./shards.ts: each has at least one).
    const limit = concurrencyShare(tenant.limits.maxConcurrentRuns * tenant.weight, shardCount(tenant), this.shard);
    return this.verdictNow(project, now).action === "cost-saving" ? Math.max(1, Math.floor(limit / 2)) : limit;
  }

  /**
   * Follows a run's status, and answers whether it may start now (admission). Runs that a
   * finished run's slot lets in are started by the alarm.
   */
  async recordRun(sync: TenantSync): Promise<{ start: boolean }> {
    // A purge deletes the index: a run's late word must not write it back.
    if (this.purges.purging) return { start: false };
    const tenant = this.profile.get();
    const periods = this.retention.of(sync.project);
    // A shard keeps a final sync's publication and charge for home, in the transaction that
    // records the run; its alarm hands them over in batches (`settleAtHome`).
    if (this.shard !== 0 && (sync.usage || sync.published)) this.settlements.keep(sync, Date.now());
    const crossings = this.shard === 0 ? this.settle(sync, periods) : [];
    const result = this.runs.record(
      sync,
      { open: tenant?.status === "active", limit: tenant ? this.concurrency(tenant, sync.at) : 0 },
      periods,
    );
    if (crossings.length > 0) await this.announce(crossings);
    else if (result.admitted.length > 0 || this.shard !== 0) await this.syncAlarm();
    // A finished run's first deadline (its unpublished artifacts', or a version it superseded):
    // no query, and an alarm call only when the alarm is set for later.
    if (sync.usage)
      await this.noteDeadline(
        sync.at + (sync.published ? Math.min(periods.unpublishedMs, periods.supersededMs) : periods.unpublishedMs),
      );
    return { start: result.start };
  }

  /** A final sync's parts that live at home: artifact versions and the budget charge (each once per run). */
  private settle(sync: TenantSync, periods = this.retention.of(sync.project)): Crossing[] {
    // A succeeded run publishes its artifacts: each gets its version (once, however often this comes).
    if (sync.status === "succeeded" && sync.published)
      this.versions.publish(sync.project, sync.runId, sync.published, sync.at, periods.supersededMs);
    // A run's final sync carries its usage: its cost is charged here, once, in the month it ended.
    return sync.usage
      ? this.budgets.charge({
          runId: sync.runId,
          project: sync.project,
          at: sync.at,
          usd: cost(sync.usage, this.prices),
        })
      : [];
  }

  /** Home settles final syncs that a shard recorded (see `recordRun`); each run once, however often it comes. */
  async settleRuns(syncs: TenantSync[]): Promise<void> {
    if (this.shard !== 0) return;
    const crossings = syncs.flatMap((sync) => this.settle(sync));
    if (crossings.length > 0) await this.announce(crossings);
  }

  /** A shard's alarm: hands waiting final syncs to home; a failed call leaves them for the next alarm. */
  private async settleAtHome(): Promise<void> {
    if (this.shard === 0) return;
    const batch = this.settlements.due(Date.now());
    if (batch.length === 0) return;
    try {
      await this.env.TENANT.getByName(this.tenantId).settleRuns(batch.map((b) => b.sync));
      this.settlements.settled(batch.map((b) => b.runId));
    } catch (err) {
      this.settlements.retryLater(Date.now());
      logError("tenant.settle_failed", {
        tenantId: this.tenantId,
        shard: this.shard,
        runs: batch.length,
        error: String(err),
      });
    }
  }

  /** Admitted, unfinished runs by project on this object alone (home sums its shards'). */
  async runningHere(): Promise<Record<string, number>> {
    return Object.fromEntries(this.runs.runningByProject());
  }

  /** Running runs by project across the tenant's shards. */
  private async runningByProject(): Promise<Map<string, number>> {
    const others = this.otherShards();
    if (others.length === 0) return this.runs.runningByProject();
    const parts = await Promise.all(others.map((s) => s.runningHere()));
    return sumByProject([Object.fromEntries(this.runs.runningByProject()), ...parts]);
  }

  /**
   * Called by a finished run once its archive is written to R2 and verified, before it empties its
   * object: the index keeps the run's summary, marked archived. False when the index has no such run.
   */
  async recordArchived(runId: string, archive: { at: number; bytes: number }): Promise<boolean> {
    if (this.purges.purging) return false;
    const found = this.runs.archived(runId, archive.at, archive.bytes, this.retention.of("").archiveMs);
    this.lifecycleDue = undefined;
    await this.syncAlarm();
    return found;
  }

  // ── retention, expiry and purge (issue 20) ──────────────────────────────────

  /** The retention policy in force; null when there is no such tenant. */
  async retentionSettings(minSeconds: number): Promise<RetentionSettings | null> {
    return this.profile.get() ? this.retention.settings(minSeconds) : null;
  }

  /** Replaces the policy (admin; bounds checked by the API). Deadlines already set stand (retention.ts). */
  async setRetention(policy: RetentionPolicy, minSeconds: number): Promise<RetentionSettings | "purging" | null> {
    if (!this.profile.get()) return null;
    if (this.purges.purging) return "purging";
    this.retention.set(policy);
    const tenant = this.profile.get();
    if (tenant) await this.pushToShards(tenant);
    return this.retention.settings(minSeconds);
  }

  /** Pins or unpins a published version (null: no such version). */
  async pinVersion(project: string, name: string, version: number, pinned: boolean): Promise<StoredVersion | null> {
    const now = Date.now();
    const result = this.versions.pin(project, name, version, pinned, now, this.retention.of(project).supersededMs);
    if (!pinned && result) await this.noteDeadline(now + this.retention.of(project).supersededMs);
    return result;
  }

  /** What a shard's expiry must respect of a run that lives here at home (lifecycle.ts `HomeChecks`). */
  async retentionChecks(runIds: string[]): Promise<Record<string, RunChecks>> {
    return homeChecks(this.sql, this.tenantId, runIds.slice(0, 100));
  }

  /** What the tenant holds now: hot run state, archives and artifacts, in bytes (GET /v1/usage), on every shard. */
  async storageHeld(): Promise<{ runStateBytes: number; archiveBytes: number; artifactBytes: number }> {
    const parts = await Promise.all([this.storageHere(), ...this.otherShards().map((s) => s.storageHere())]);
    return {
      runStateBytes: parts.reduce((n, p) => n + p.runStateBytes, 0),
      archiveBytes: parts.reduce((n, p) => n + p.archiveBytes, 0),
      artifactBytes: parts.reduce((n, p) => n + p.artifactBytes, 0),
    };
  }

  /** This object's part of `storageHeld` (home sums its shards'). */
  async storageHere(): Promise<{ runStateBytes: number; archiveBytes: number; artifactBytes: number }> {
    return this.lifecycle.held();
  }

  /**
   * Starts purging the tenant: suspended at once (its keys are refused from this call on), the
   * rest done by the alarm in bounded passes. Null when there is no such tenant; a purge already
   * under way is left as it is and reported.
   */
  async requestPurge(reason: string, requestedBy: string): Promise<PurgeProgress | null> {
    if (!this.profile.get()) return null;
    const now = Date.now();
    if (!this.purges.purging) {
      this.ctx.storage.transactionSync(() => {
        this.profile.update({ status: "suspended" }, now);
        this.purges.begin(reason, requestedBy, now);
      });
      // A sharded tenant's shards refuse new runs from now on too.
      const suspended = this.profile.get();
      if (suspended) await this.pushToShards(suspended);
    }
    await this.alarmClock.sync(now);
    return this.purges.progress();
  }

  async purgeProgress(): Promise<PurgeProgress | null> {
    return this.purges.progress();
  }

  /** A purge's pass (from the alarm); the last one reports to the directory and deletes everything. */
  private async purgeStep(): Promise<void> {
    const pass = await purgePass(this.purges, this.env, this.tenantId, Date.now, this.purgeShards());
    if (!pass.done) {
      await this.alarmClock.sync(Date.now() + pass.retryInMs);
      return;
    }
    const progress = this.purges.progress();
    if (!progress) return;
    // The audit first: a kill after it and before deleteAll runs this again (the record stands).
    await this.env.DIRECTORY.getByName(directoryShard(this.tenantId)).purgeFinished(
      this.tenantId,
      { reason: progress.reason, requestedBy: progress.requestedBy, requestedAt: Date.parse(progress.requestedAt) },
      pass.counts,
    );
    await this.alarmClock.sync(null);
    await this.ctx.storage.deleteAll();
    // The object may live on in memory until evicted: its caches must not answer for the tenant.
    this.gone = true;
  }

  /** Home's purge reaches a sharded tenant's other shards through these (purge.ts `OtherShards`). */
  private purgeShards(): OtherShards | undefined {
    const others = this.otherShards();
    if (others.length === 0) return undefined;
    return {
      purgeRuns: async () => {
        const parts = await Promise.all(others.map((s) => s.purgeRunsHere()));
        return {
          runs: parts.reduce((n, p) => n + p.runs, 0),
          activeRunsCancelled: parts.reduce((n, p) => n + p.activeRunsCancelled, 0),
          left: parts.some((p) => p.left),
        };
      },
      wipe: async () => {
        await Promise.all(others.map((s) => s.wipeShard()));
      },
    };
  }

  /** A shard's part of its tenant's purge: a batch of the runs it indexes; `left` while any remain. */
  async purgeRunsHere(): Promise<{ runs: number; activeRunsCancelled: number; left: boolean }> {
    if (this.shard === 0) return { runs: 0, activeRunsCancelled: 0, left: false };
    const batch = this.purges.runs(PURGE_RUN_BATCH);
    const purged = await purgeRunBatch(
      batch,
      this.env,
      this.tenantId,
      () => {},
      (runId) => this.purges.forgetRun(runId),
    );
    return { runs: purged.runs, activeRunsCancelled: purged.activeRunsCancelled, left: batch.length > 0 };
  }

  /** The last of a shard's part in its tenant's purge: its storage goes. */
  async wipeShard(): Promise<void> {
    if (this.shard === 0) return;
    await this.alarmClock.sync(null);
    await this.ctx.storage.deleteAll();
    this.gone = true;
  }

  /** A new retention deadline: the alarm comes by then (earlier is harmless: the sweep finds nothing due). */
  private async noteDeadline(at: number): Promise<void> {
    if (this.lifecycleDue !== undefined) this.lifecycleDue = earliest(this.lifecycleDue, at);
    const alarmAt = this.alarmClock.dueAt;
    if (alarmAt === null || alarmAt > at) await this.alarmClock.sync(at);
  }

  /** Forgets a deleted run (run-deletion.ts says what goes and what stays); false when it had no such run. */
  async deleteRun(runId: string): Promise<boolean> {
    const here = await this.deleteRunHere(runId);
    // A sharded tenant's run is indexed on one of its shards (home does not know which): each forgets it.
    const there = await Promise.all(this.otherShards().map((s) => s.deleteRunHere(runId)));
    return here || there.some(Boolean);
  }

  /** A shard's part of `deleteRun`: its index row and Idempotency-Keys of the run. */
  async deleteRunHere(runId: string): Promise<boolean> {
    return this.ctx.storage.transactionSync(() => deleteRunRows(this.sql, runId));
  }

  // ── budgets ─────────────────────────────────────────────────────────────────

  /** Sets the tenant's budgets (admin); null when there is no such tenant. */
  async setBudgets(policy: BudgetPolicy): Promise<BudgetReport | null> {
    if (!this.profile.get()) return null;
    const now = Date.now();
    const crossings = this.budgets.set(policy, now);
    if (crossings.length > 0) await this.announce(crossings);
    return this.budgets.report(monthOf(now), now, await this.runningByProject());
  }

  /** The month's budgets, spending and thresholds crossed. */
  async budgetReport(month?: string): Promise<BudgetReport> {
    const now = Date.now();
    return this.budgets.report(month ?? monthOf(now), now, await this.runningByProject());
  }

  /** Crossed thresholds go to the webhooks subscribed to `budget.threshold_crossed`. */
  private async announce(crossings: Crossing[]): Promise<void> {
    const events = crossings.map((c) => ({
      eventId: `evt_budget_${c.month}_${c.project ?? "_"}_${c.threshold}`,
      type: "budget.threshold_crossed",
      runId: "",
      projectId: c.project ?? "",
      tenantId: this.tenantId,
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
    await this.acceptEvents(events);
  }

  /**
   * What metrics need of this tenant: runs finished in [from, to), what is in flight now (each
   * running run is asked for its steps in flight, by pool), and webhook deliveries.
   */
  async metricParts(from: number, to: number): Promise<MetricParts> {
    const backlog = await Promise.all(
      this.runs.active(MAX_BACKLOG_RUNS).map((id) =>
        runStub(this.env, id)
          .backlog()
          .catch(() => []),
      ),
    );
    const here: MetricParts = {
      finished: this.runs.finished(from, to),
      now: this.runs.counts(),
      backlog: backlog.flat(),
      webhooks: this.webhooks.stats(from, to),
      approvals: this.approvals.stats(from, to),
    };
    const others = this.otherShards();
    if (others.length === 0) return here;
    return mergeMetricParts(here, await Promise.all(others.map((s) => s.metricParts(from, to))));
  }

  async usage(from: number, to: number, groupBy: UsageGroup): Promise<UsageGroupRow[]> {
    const others = this.otherShards();
    if (others.length === 0) return this.runs.usage(from, to, groupBy);
    const parts = await Promise.all(others.map((s) => s.usage(from, to, groupBy)));
    return mergeUsage([this.runs.usage(from, to, groupBy), ...parts]);
  }

  /** The tenant's runs, newest first: a sharded tenant's home merges every shard's page (./shards.ts). */
  async listRuns(
    filter: ListRunsFilter,
  ): Promise<{ items: RunSummary[]; next: { createdAt: number; runId: string } | null }> {
    const others = this.otherShards();
    if (others.length === 0) return this.runs.list(filter);
    const pages = await Promise.all(others.map((s) => s.listRuns(filter)));
    return mergeRunPages([this.runs.list(filter), ...pages], filter.limit);
  }

  /** The tenant's approval gates across runs: pending oldest first, decided newest first. */
  async listApprovals(
    filter: ListApprovalsFilter,
  ): Promise<{ items: ApprovalView[]; next: { at: number; runId: string; stepId: string } | null }> {
    return this.approvals.list(filter);
  }

  // ── webhooks ────────────────────────────────────────────────────────────────
  /** `keyId`: the key asking, recorded when it flags the endpoint with includeDecisionLinks. */
  async createWebhook(body: CreateWebhookBody, runId: string | null = null, keyId: string | null = null) {
    return this.webhooks.create(body, Date.now(), runId, keyId);
  }

  async listWebhooks() {
    return this.webhooks.list(Date.now());
  }

  async getWebhook(id: string) {
    return this.webhooks.get(id, Date.now());
  }

  async updateWebhook(id: string, patch: UpdateWebhookBody, keyId: string | null = null) {
    return this.webhooks.update(id, patch, Date.now(), keyId);
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

  /**
   * Called by a run's outbox with its new events. Each (endpoint, event) delivery is recorded
   * with a due timer before this returns, and only then may the run delete its outbox rows: from
   * here on the tenant's timers, not a queue message, make sure every event is delivered.
   */
  async acceptEvents(events: HandedEvent[]): Promise<void> {
    // A purging tenant's webhooks are being deleted: its runs' last events go nowhere.
    if (this.purges.purging) return;
    this.approvals.follow(events);
    if (this.webhooks.accept(events, Date.now()).length === 0) return;
    // A send that failed a moment ago backs off; the alarm sends these with the rest.
    if (Date.now() >= this.sendRetryAt) await this.sendDueDeliveries();
    await this.syncAlarm();
  }

  /**
   * Called by the webhooks consumer with a queued "events" message (what runs sent before they
   * handed their events to `acceptEvents`): the attempts to make now.
   */
  async planDeliveries(events: PlannedEvent[]): Promise<DeliveryTask[]> {
    const tasks = this.webhooks.plan(events, Date.now(), this.policy);
    // Planning nothing (the common case: no endpoint wants these) changed no timer.
    if (tasks.length > 0) await this.syncAlarm();
    return tasks;
  }

  async deliveryTask(deliveryId: string): Promise<DeliveryTask | null> {
    const task = this.webhooks.task(deliveryId, Date.now(), this.policy);
    await this.syncAlarm();
    return task;
  }

  async recordDelivery(deliveryId: string, result: AttemptResult): Promise<void> {
    const recorded = this.webhooks.record(deliveryId, result, Date.now(), this.policy);
    if (recorded) writePoints(this.env.ANALYTICS, [webhookPoint(this.tenantId, recorded, result)]);
    await this.syncAlarm();
  }

  /** Starts admitted runs, and puts due webhook deliveries back on the webhooks queue. */
  override async alarm(): Promise<void> {
    this.alarmClock.fired();
    if (this.purges.purging) return this.purgeStep();
    // Opened runs never heard of: a run whose object does not exist was never created, and the
    // slot it held goes to the next waiting run.
    let freed = false;
    for (const runId of this.runs.unconfirmed(Date.now() - OPENED_CHECK_MS)) {
      if (await runStub(this.env, runId).get(this.tenantId)) {
        this.runs.confirmed(runId);
        continue;
      }
      this.runs.forget(runId);
      freed = true;
    }
    const tenant = this.profile.get();
    if (freed && tenant?.status === "active") this.runs.admit(this.concurrency(tenant, Date.now()));
    for (const runId of this.runs.toStart()) {
      await runStub(this.env, runId).start();
      this.runs.markStarted(runId);
    }
    await this.sendDueDeliveries();
    // Retention: a bounded batch of what is due, if anything is; more due comes straight back.
    const due = this.lifecycleDue === undefined ? this.lifecycle.nextDue() : this.lifecycleDue;
    if (due !== null && due <= Date.now())
      this.lifecycleDue = (await this.lifecycle.sweep(Date.now())).more ? Date.now() : undefined;
    else this.lifecycleDue = due;
    await this.settleAtHome();
    await this.syncAlarm();
  }

  /**
   * Puts due deliveries on the webhooks queue. A timer moves only once its message is sent, so a
   * send that fails leaves its deliveries due, and the alarm backs off instead of spinning on them.
   * More than a pass's worth due: the alarm comes straight back for the rest.
   */
  private async sendDueDeliveries(): Promise<void> {
    const due = this.webhooks.due(Date.now());
    if (due.length === 0) return;
    const tenantId = this.tenantId;
    const { sent, error } = await sendChunked(
      this.env.QUEUE_WEBHOOKS,
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

  private async syncAlarm(): Promise<void> {
    // A purge's passes own the alarm until the purge is done.
    if (this.purges.purging) return this.alarmClock.sync(this.alarmClock.dueAt ?? Date.now());
    // Due deliveries whose last send failed wait for the backoff, not for the past.
    const deliveries = this.webhooks.nextDue();
    const nextDelivery = deliveries === null ? null : Math.max(deliveries, this.sendRetryAt);
    if (this.lifecycleDue === undefined) this.lifecycleDue = this.lifecycle.nextDue();
    const next =
      this.runs.toStart().length > 0
        ? Date.now()
        : earliest(earliest(nextDelivery, this.runs.nextUnconfirmed()), this.lifecycleDue);
    // A shard's waiting settlements (none, and no statement, at home).
    await this.alarmClock.sync(this.shard === 0 ? next : earliest(next, this.settlements.nextDue()));
  }
}
