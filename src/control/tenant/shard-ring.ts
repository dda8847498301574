/**
 * A tenant object's part in its tenant's shards (shards.ts): home's view of the others (asking
 * every one and merging their answers, pushing the tenant's record), and a shard's memory of what
 * home said (budget verdicts, scanning) and the final syncs it keeps for home (shard-span.ts).
 */
import type { RetentionPolicy } from "../../../schema/retention";
import type { TenantSync } from "../../../schema/run";
import type { RunScanning } from "../../../schema/scanning";
import type { Tenant } from "../../../schema/tenants";
import { logError } from "../../lib/log";
import { type BudgetVerdict, monthOf } from "./budgets";
import type { TenantHost, TenantStub } from "./host";
import { quotaUsed, Settlements, setQuotaUsed, ShardSpan } from "./shard-span";
import { quotaCounts, SHARD_CONTEXT_MS, shardCount, shardName } from "./shards";

/** What a shard asks home before opening a run of a project. */
export interface ProjectContext {
  verdict: BudgetVerdict;
  scanning: RunScanning;
}

export class ShardRing {
  private settlementBook: Settlements | undefined;
  private spanBook: ShardSpan | undefined;
  /** A shard's memory of home's answers, each kept SHARD_CONTEXT_MS (in memory: eviction only asks again). */
  private readonly contexts = new Map<string, ProjectContext & { at: number }>();

  constructor(
    private readonly host: TenantHost,
    /** Home's own answers for a project: its budgets' verdict and its scanning policy. */
    private readonly home: {
      verdict(project: string, now: number): BudgetVerdict;
      scanning(project: string): RunScanning;
    },
  ) {}

  /** Lazy: a one-shard tenant's home never reads these tables. */
  get settlements(): Settlements {
    this.settlementBook ??= new Settlements(this.host.sql);
    return this.settlementBook;
  }

  private get span(): ShardSpan {
    this.spanBook ??= new ShardSpan(this.host.sql);
    return this.spanBook;
  }

  /** Home's view of its other shards: every one that ever held runs (none for a one-shard tenant). */
  others(): TenantStub[] {
    if (this.host.shard !== 0) return [];
    const high = this.span.high();
    return Array.from({ length: Math.max(0, high - 1) }, (_, i) =>
      this.host.env.TENANT.getByName(shardName(this.host.tenantId, i + 1)),
    );
  }

  /**
   * Asks every shard and merges the answers with this one's: `here` first, then the others' in
   * shard order. A one-shard tenant's answer is `here` as it is, with no call and no merge.
   */
  async merged<T>(here: T, ask: (shard: TenantStub) => Promise<T>, merge: (parts: T[]) => T): Promise<T> {
    const others = this.others();
    if (others.length === 0) return here;
    return merge([here, ...(await Promise.all(others.map(ask)))]);
  }

  /**
   * Home sends the tenant's record to each shard (on create and update: N calls on a rare admin
   * write). When the shard count changed, the month's quota is re-dealt: home reads what each
   * shard counted, and sets each one's count so that what is left of the month's quota is split
   * by the new shares (`quotaCounts`); runs opened while this call is under way may go over by
   * their number.
   */
  async push(tenant: Tenant, retention: RetentionPolicy, resharded = false): Promise<void> {
    if (this.host.shard !== 0) return;
    const n = shardCount(tenant);
    if (n > 1) this.span.raise(n);
    const others = this.others();
    let counts: (number | undefined)[] = [];
    const month = monthOf(Date.now());
    if (resharded) {
      const sql = this.host.sql;
      const used = [quotaUsed(sql, month), ...(await Promise.all(others.map((s) => s.quotaUsed(month))))];
      counts = quotaCounts(tenant.limits.monthlyRuns, n, used);
      setQuotaUsed(sql, month, counts[0] ?? 0);
    }
    // Shards follow home's retention policy: their runs' deadlines are set where they are indexed.
    await Promise.all(
      others.map((s, i) => {
        const runs = counts[i + 1];
        return s.mirrorTenant(tenant, runs === undefined ? undefined : { month, runs }, retention);
      }),
    );
  }

  /** Home's answer for a project; a shard asks home, or remembers its answer for SHARD_CONTEXT_MS. */
  async projectContext(project: string, now: number): Promise<ProjectContext> {
    if (this.host.shard === 0)
      return { verdict: this.home.verdict(project, now), scanning: this.home.scanning(project) };
    const kept = this.contexts.get(project);
    if (kept && now - kept.at < SHARD_CONTEXT_MS) return kept;
    const fresh = await this.host.env.TENANT.getByName(this.host.tenantId).shardContext(project);
    if (this.contexts.size >= 1_000) this.contexts.clear();
    this.contexts.set(project, { at: now, ...fresh });
    return fresh;
  }

  /** The budget verdict as this shard knows it (home's own, or what home last said). */
  verdictNow(project: string, now: number): BudgetVerdict {
    if (this.host.shard === 0) return this.home.verdict(project, now);
    return this.contexts.get(project)?.verdict ?? { action: "none" };
  }

  /** A shard keeps a final sync's publication and charge for home (in the transaction that records the run). */
  keep(sync: TenantSync): void {
    if (this.host.shard !== 0 && (sync.usage || sync.published)) this.settlements.keep(sync, Date.now());
  }

  /** When a shard's waiting settlements are due (none, and no statement, at home). */
  nextDue(): number | null {
    return this.host.shard === 0 ? null : this.settlements.nextDue();
  }

  /** A shard's alarm: hands waiting final syncs to home; a failed call leaves them for the next alarm. */
  async settleAtHome(): Promise<void> {
    if (this.host.shard === 0) return;
    const batch = this.settlements.due(Date.now());
    if (batch.length === 0) return;
    try {
      await this.host.env.TENANT.getByName(this.host.tenantId).settleRuns(batch.map((b) => b.sync));
      this.settlements.settled(batch.map((b) => b.runId));
    } catch (err) {
      this.settlements.retryLater(Date.now());
      logError("tenant.settle_failed", {
        tenantId: this.host.tenantId,
        shard: this.host.shard,
        runs: batch.length,
        error: String(err),
      });
    }
  }
}
