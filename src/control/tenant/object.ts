/**
 * The Tenant Durable Object: one per tenant (and one per extra shard of a sharded tenant),
 * addressed by tenant id. Nothing here is global: a key names its tenant, so authentication,
 * admission and rate limiting only ever touch that tenant's own object.
 *
 * A thin RPC facade (concerns.ts wires what it calls): keys and rate limits (access.ts), runs'
 * admission and settlement (admission.ts), events and webhook deliveries (deliveries.ts), the
 * tenant's shards (shard-ring.ts), retention and purge (upkeep.ts), and the books under them.
 * A new per-tenant feature gets its own module or object; only its RPCs come here.
 */
import { DurableObject } from "cloudflare:workers";
import type { BudgetPolicy, BudgetReport } from "../../../schema/budgets";
import type { RetentionPolicy, RetentionSettings } from "../../../schema/retention";
import type { TenantSync } from "../../../schema/run";
import type * as Scan from "../../../schema/scanning";
import type * as T from "../../../schema/tenants";
import type * as W from "../../../schema/webhooks";
import type { UsageGroup, UsageGroupRow } from "../../analytics/usage";
import type { Env } from "../../env";
import type { MetricParts } from "../metrics";
import { migrate } from "../sqlite";
import type { AuthResult, Credential } from "./access";
import type { OpenRunResult } from "./admission";
import type { HandedEvent, ListApprovalsFilter } from "./approvals";
import type { StoredVersion } from "./artifacts";
import { monthOf } from "./budgets";
import { type TenantConcerns, wireConcerns } from "./concerns";
import { earliest, type TenantHost, tenantHost } from "./host";
import { homeChecks, type RunChecks } from "./lifecycle";
import { TENANT_MIGRATIONS } from "./migrations";
import type { ListRunsFilter, OpenedRun } from "./runs";
import type { AuditFilter, AuditRecord } from "../../../schema/audit";
import { mergeCreations, runCreations } from "./run-audit";
import type { ProjectContext } from "./shard-ring";
import { quotaUsed, setQuotaUsed } from "./shard-span";
import { mergeMetricParts, mergeRunPages, mergeUsage, shardCount, sumCounts } from "./shards";
import type { PlannedEvent } from "./webhooks";

export type { AuthResult, Credential, ListRunsFilter, OpenedRun, OpenRunResult };
export { TENANT_MIGRATIONS };

type RunCounts = { running: number; waiting: number };
type RunPage = ReturnType<typeof mergeRunPages>;

export class TenantObject extends DurableObject<Env> {
  private readonly host: TenantHost;
  private readonly c: TenantConcerns;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.host = tenantHost(
      ctx,
      () => this.env,
      () => this.syncAlarm(),
    );
    this.c = wireConcerns(this.host);
    ctx.blockConcurrencyWhile(async () => {
      this.c.access.fresh = migrate(this.host.sql, TENANT_MIGRATIONS).created;
      await this.host.alarm.load();
      await this.c.upkeep.armBackfill();
    });
  }

  // ── the tenant and its keys (profile.ts, access.ts) ─────────────────────────

  async createTenant(body: Omit<T.CreateTenantBody, "id">): Promise<T.Tenant | null> {
    // A purged tenant's object still in memory holds caches of the old tenant: it starts afresh
    // (this call fails; the caller's next call reaches a new instance, migrated on an empty store).
    if (this.c.access.gone) this.ctx.abort("a purged tenant is created again");
    const tenant = this.c.profile.create(this.host.tenantId, body, Date.now());
    if (tenant) await this.c.push(tenant);
    return tenant;
  }

  /** The tenant's record, its runs running and waiting on every shard, and a purge under way. */
  async getTenant(): Promise<(T.Tenant & { runs: RunCounts; purge: T.PurgeProgress | null }) | null> {
    const tenant = this.c.access.gone ? null : this.c.profile.get();
    if (!tenant) return null;
    const here = this.c.runs.counts();
    const runs = await this.c.ring.merged(here, (s) => s.getTenant().then((t) => t?.runs ?? sumCounts([])), sumCounts);
    return { ...tenant, runs, purge: this.c.purges.progress() };
  }

  /** Changes status, limits or weight; a reactivated tenant or a raised limit starts waiting runs. */
  async updateTenant(patch: T.UpdateTenantBody): Promise<T.Tenant | "purging" | null> {
    if (this.c.purges.purging) return "purging";
    const before = this.c.profile.get();
    const tenant = this.c.profile.update(patch, Date.now());
    this.c.admission.admit(tenant);
    await this.syncAlarm();
    if (tenant) await this.c.push(tenant, before !== null && shardCount(before) !== shardCount(tenant));
    return tenant;
  }

  async createKey(body: T.CreateKeyBody): Promise<T.CreatedKey | "purging" | null> {
    if (!this.c.profile.get()) return null;
    if (this.c.purges.purging) return "purging";
    return this.c.profile.createKey(this.host.tenantId, body, Date.now(), this.host.env.KEY_MAC_KEY);
  }

  async listKeys() {
    return this.c.profile.get() ? this.c.profile.listKeys() : null;
  }

  async revokeKey(keyId: string): Promise<boolean> {
    return this.c.profile.revokeKey(keyId, Date.now());
  }

  async rotateKey(keyId: string, overlapMs: number): Promise<T.CreatedKey | null> {
    return this.c.profile.rotateKey(this.host.tenantId, keyId, overlapMs, Date.now(), this.host.env.KEY_MAC_KEY);
  }

  /** An API request's key, the tenant's status and rate tokens (access.ts). */
  async authenticate(presented: Credential, tokens = 1): Promise<AuthResult> {
    return this.c.access.authenticate(presented, tokens);
  }

  // ── what home asks of its other shards, and a shard of home (shards.ts, shard-ring.ts) ──

  /** This object's count of the month's runs (home re-deals the quota when the shard count changes). */
  async quotaUsed(month: string): Promise<number> {
    return quotaUsed(this.host.sql, month);
  }

  /** A shard takes its tenant's record from home; a reactivated tenant or a raised limit starts waiting runs. */
  async mirrorTenant(tenant: T.Tenant, quota?: { month: string; runs: number }, retention?: RetentionPolicy) {
    if (this.host.shard === 0) return;
    if (quota) setQuotaUsed(this.host.sql, quota.month, quota.runs);
    if (retention) this.c.retention.set(retention);
    this.c.profile.mirror(tenant);
    this.c.admission.admit();
    await this.syncAlarm();
  }

  /** What a shard asks home before opening a run of a project: its budget verdict and scanning policy. */
  async shardContext(project: string): Promise<ProjectContext> {
    return { verdict: this.c.budgets.verdict(project, Date.now()), scanning: this.c.scanning.forRun(project) };
  }

  /** Home settles final syncs that a shard recorded; each run once, however often it comes. */
  async settleRuns(syncs: TenantSync[]): Promise<void> {
    return this.c.admission.settleRuns(syncs);
  }

  /** Admitted, unfinished runs by project on this object alone (home sums its shards'). */
  async runningHere(): Promise<Record<string, number>> {
    return Object.fromEntries(this.c.runs.runningByProject());
  }

  /** This object's part of `storageHeld` (home sums its shards'). */
  async storageHere() {
    return this.c.upkeep.lifecycle.held();
  }

  /** A shard's part of `deleteRun`: its index row and Idempotency-Keys of the run. */
  async deleteRunHere(runId: string): Promise<boolean> {
    return this.c.upkeep.deleteRunHere(runId);
  }

  /** A shard's part of its tenant's purge: a batch of the runs it indexes; `left` while any remain. */
  async purgeRunsHere() {
    return this.c.upkeep.purgeRunsHere();
  }

  /** The last of a shard's part in its tenant's purge: its storage goes. */
  async wipeShard(): Promise<void> {
    if (this.host.shard !== 0) await this.c.access.wipe();
  }

  /** What a shard's expiry must respect of a run that lives here at home (lifecycle.ts `HomeChecks`). */
  async retentionChecks(runIds: string[]): Promise<Record<string, RunChecks>> {
    return homeChecks(this.host.sql, this.host.tenantId, runIds.slice(0, 100));
  }

  // ── artifact versions and secret scanning (artifacts.ts, scanning.ts) ───────

  async projectArtifacts(project: string): Promise<StoredVersion[]> {
    return this.c.versions.latest(project);
  }

  async artifactVersions(project: string, name: string, limit: number, before?: number): Promise<StoredVersion[]> {
    return this.c.versions.versions(project, name, limit, before);
  }

  async artifactVersion(project: string, name: string, version: number): Promise<StoredVersion | null> {
    return this.c.versions.version(project, name, version);
  }

  /** Pins or unpins a published version (null: no such version); an unpinned one gets its deadline. */
  async pinVersion(project: string, name: string, version: number, pinned: boolean): Promise<StoredVersion | null> {
    const now = Date.now();
    const { supersededMs } = this.c.retention.of(project);
    const result = this.c.versions.pin(project, name, version, pinned, now, supersededMs);
    if (!pinned && result) await this.c.upkeep.noteDeadline(now + supersededMs);
    return result;
  }

  async scanSettings(): Promise<Scan.ScanSettings | null> {
    return this.c.profile.get() ? this.c.scanning.settings() : null;
  }

  async setScanPolicy(body: Scan.ScanPolicyBody): Promise<Scan.ScanSettings | null> {
    return this.c.profile.get() ? this.c.scanning.setPolicy(body, Date.now()) : null;
  }

  /** Accepts a reviewed finding for a project (audited); `full` when the project's list is full. */
  async allowFingerprint(body: Scan.AllowFingerprintBody): Promise<Scan.AllowedFingerprint | "full" | null> {
    if (!this.c.profile.get()) return null;
    return this.c.scanning.allow(body.project, body.fingerprint, body.reason, Date.now()) ?? "full";
  }

  async disallowFingerprint(project: string, fingerprint: string): Promise<boolean | null> {
    return this.c.profile.get() ? this.c.scanning.disallow(project, fingerprint, Date.now()) : null;
  }

  async scanAllowList(project?: string) {
    return this.c.profile.get() ? this.c.scanning.allowList(project) : null;
  }

  // ── runs (admission.ts) ─────────────────────────────────────────────────────

  /** Opens a run: the key check when the API deferred it to this call, then `Admission.open`. */
  async openRun(
    run: OpenedRun,
    idempotency?: { key: string; bodyHash: string },
    presented?: Credential,
  ): Promise<OpenRunResult> {
    const refused = presented ? await this.c.access.refusal(presented, "runs:write") : null;
    return refused ?? this.c.admission.open(run, idempotency, presented !== undefined);
  }

  /** Follows a run's status, and answers whether it may start now (admission). */
  async recordRun(sync: TenantSync): Promise<{ start: boolean }> {
    // A purge deletes the index: a run's late word must not write it back.
    if (this.c.purges.purging) return { start: false };
    return this.c.admission.record(sync);
  }

  /** A finished run's archive is written: the index keeps its summary. False when it has no such run. */
  async recordArchived(runId: string, archive: { at: number; bytes: number }): Promise<boolean> {
    return this.c.purges.purging ? false : this.c.upkeep.recordArchived(runId, archive);
  }

  /** The tenant's runs, newest first: a sharded tenant's home merges every shard's page (shards.ts). */
  async listRuns(filter: ListRunsFilter): Promise<RunPage> {
    const merge = (pages: RunPage[]) => mergeRunPages(pages, filter.limit);
    return this.c.ring.merged(this.c.runs.list(filter), (s) => s.listRuns(filter), merge);
  }

  /** Run creations for the audit trail, from every shard's run index (./run-audit.ts). */
  async auditRunCreations(filter: AuditFilter): Promise<AuditRecord[]> {
    const merge = mergeCreations(filter.limit);
    return this.c.ring.merged(runCreations(this.host.sql, filter), (s) => s.auditRunCreations(filter), merge);
  }

  async usage(from: number, to: number, groupBy: UsageGroup): Promise<UsageGroupRow[]> {
    return this.c.ring.merged(this.c.runs.usage(from, to, groupBy), (s) => s.usage(from, to, groupBy), mergeUsage);
  }

  /** Runs finished in [from, to) and in flight now on every shard, and home's deliveries and approvals. */
  async metricParts(from: number, to: number): Promise<MetricParts> {
    const here: MetricParts = {
      ...(await this.c.admission.metricsHere(from, to)),
      webhooks: this.c.deliveries.webhooks.stats(from, to),
      approvals: this.c.approvals.stats(from, to),
    };
    const merge = ([home, ...shards]: MetricParts[]) => mergeMetricParts(home ?? here, shards);
    return this.c.ring.merged(here, (s) => s.metricParts(from, to), merge);
  }

  /** The tenant's approval gates across runs: pending oldest first, decided newest first. */
  async listApprovals(filter: ListApprovalsFilter) {
    return this.c.approvals.list(filter);
  }

  // ── budgets (budgets.ts) ────────────────────────────────────────────────────

  /** Sets the tenant's budgets (admin); null when there is no such tenant. */
  async setBudgets(policy: BudgetPolicy): Promise<BudgetReport | null> {
    if (!this.c.profile.get()) return null;
    const now = Date.now();
    await this.c.deliveries.announce(this.c.budgets.set(policy, now));
    return this.c.budgets.report(monthOf(now), now, await this.c.admission.runningByProject());
  }

  /** The month's budgets, spending and thresholds crossed. */
  async budgetReport(month?: string): Promise<BudgetReport> {
    const now = Date.now();
    return this.c.budgets.report(month ?? monthOf(now), now, await this.c.admission.runningByProject());
  }

  // ── retention and purge (retention.ts, upkeep.ts) ───────────────────────────

  /** The retention policy in force; null when there is no such tenant. */
  async retentionSettings(minSeconds: number): Promise<RetentionSettings | null> {
    return this.c.profile.get() ? this.c.retention.settings(minSeconds) : null;
  }

  /** Replaces the policy (admin; bounds checked by the API). Deadlines already set stand (retention.ts). */
  async setRetention(policy: RetentionPolicy, minSeconds: number): Promise<RetentionSettings | "purging" | null> {
    const tenant = this.c.profile.get();
    if (!tenant) return null;
    if (this.c.purges.purging) return "purging";
    this.c.retention.set(policy);
    await this.c.push(tenant);
    return this.c.retention.settings(minSeconds);
  }

  /** What the tenant holds now: hot run state, archives and artifacts, in bytes (GET /v1/usage), on every shard. */
  async storageHeld(): Promise<{ runStateBytes: number; archiveBytes: number; artifactBytes: number }> {
    return this.c.upkeep.storageHeld();
  }

  /** Forgets a deleted run on every shard (run-deletion.ts); false when none had it. */
  async deleteRun(runId: string): Promise<boolean> {
    return this.c.upkeep.deleteRun(runId);
  }

  /** Starts purging the tenant: suspended at once, the rest done by the alarm in bounded passes. */
  async requestPurge(reason: string, requestedBy: string): Promise<T.PurgeProgress | null> {
    return this.c.upkeep.requestPurge(reason, requestedBy);
  }

  async purgeProgress(): Promise<T.PurgeProgress | null> {
    return this.c.purges.progress();
  }

  // ── webhooks and events (webhooks.ts, deliveries.ts) ────────────────────────

  /** `keyId`: the key asking, recorded when it flags the endpoint with includeDecisionLinks. */
  async createWebhook(body: W.CreateWebhookBody, runId: string | null = null, keyId: string | null = null) {
    return this.c.deliveries.webhooks.create(body, Date.now(), runId, keyId);
  }

  async listWebhooks() {
    return this.c.deliveries.webhooks.list(Date.now());
  }

  async getWebhook(id: string) {
    return this.c.deliveries.webhooks.get(id, Date.now());
  }

  async updateWebhook(id: string, patch: W.UpdateWebhookBody, keyId: string | null = null) {
    return this.c.deliveries.webhooks.update(id, patch, Date.now(), keyId);
  }

  async deleteWebhook(id: string) {
    return this.c.deliveries.remove(id);
  }

  async rotateWebhookSecret(id: string, overlapMs: number) {
    return this.c.deliveries.webhooks.rotate(id, overlapMs, Date.now());
  }

  async webhookDeliveries(id: string, q: { status?: W.Delivery["status"]; eventId?: string; limit: number }) {
    return this.c.deliveries.webhooks.deliveries(id, q);
  }

  /** Makes deliveries pending again; the alarm sends them at once. */
  async replayWebhook(id: string, which: { deliveryId: string } | { failedSince: number }) {
    return this.c.deliveries.replay(id, which);
  }

  /** A run's new events: its outbox rows may go once this returns (deliveries.ts `accept`). */
  async acceptEvents(events: HandedEvent[]): Promise<void> {
    return this.c.deliveries.accept(events);
  }

  /** A queued "events" message's attempts to make now (the webhooks consumer's). */
  async planDeliveries(events: PlannedEvent[]): Promise<W.DeliveryTask[]> {
    return this.c.deliveries.plan(events);
  }

  async deliveryTask(deliveryId: string): Promise<W.DeliveryTask | null> {
    return this.c.deliveries.task(deliveryId);
  }

  async recordDelivery(deliveryId: string, result: W.AttemptResult): Promise<void> {
    return this.c.deliveries.record(deliveryId, result);
  }

  // ── the one alarm ───────────────────────────────────────────────────────────

  /** Starts admitted runs, sends due deliveries, sweeps retention, hands a shard's settlements home. */
  override async alarm(): Promise<void> {
    this.host.alarm.fired();
    if (this.c.purges.purging) return this.c.upkeep.purgeStep();
    await this.c.admission.startDue();
    await this.c.deliveries.sendDue();
    await this.c.upkeep.sweep();
    await this.c.ring.settleAtHome();
    await this.syncAlarm();
  }

  /** The alarm at the earliest thing any concern has due (a purge's passes own it until done). */
  private async syncAlarm(): Promise<void> {
    const { alarm } = this.host;
    if (this.c.purges.purging) return alarm.sync(alarm.dueAt ?? Date.now());
    const { runs, deliveries, upkeep, ring } = this.c;
    const next =
      runs.toStart().length > 0
        ? Date.now()
        : earliest(earliest(deliveries.nextDue(), runs.nextUnconfirmed()), upkeep.nextDue());
    await alarm.sync(earliest(next, ring.nextDue()));
  }
}
