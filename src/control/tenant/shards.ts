/**
 * A hot tenant without a hot object: a tenant whose limits ask for `shards: N` (N > 1) opens its
 * runs on N TenantObjects instead of one (docs/capacity.md, "A hot tenant").
 *
 * - Shard 0 is the tenant's own object, named by the tenant id (its "home": profile, keys,
 *   webhooks, approvals, budgets, scanning, artifact versions). Shard k > 0 is a TenantObject named
 *   `${tenantId}~${k}`: `~` is outside the tenant id grammar (schema/ids.ts), so no tenant's name is
 *   ever a shard's.
 * - Each shard holds the run index rows, Idempotency-Keys, quota month and admission of the runs
 *   opened on it, and a copy of the tenant's record that home pushes on every create and update.
 * - Shard k owns `share(monthlyRuns, N, k)` of the month's quota (the shares add up to the
 *   quota exactly: the tenant is never over; a run without an Idempotency-Key that a spent shard
 *   refuses is tried on the other shards, so only keyed runs, bound to their key's shard, can be
 *   refused while another shard has quota left), and
 *   `max(1, share(maxConcurrentRuns × weight, N, k))` running slots (exact when the limit is at
 *   least N; otherwise over by at most N - limit).
 * - An Idempotency-Key belongs to shard `fnv1a(key) mod N`; a run without one opens on any shard.
 * - A run remembers its shard (the run row's `tenant_shard`), so its status syncs reach the shard
 *   that indexed it even after N changes.
 *
 * Pure functions: routing, naming, shares and merging of the shards' answers.
 */
import type { RunSummary } from "../../../schema/api";
import { shardOf } from "../../../schema/pools";
import type { Tenant } from "../../../schema/tenants";
import { addModels, addTotals, emptyTotals, type UsageGroupRow } from "../../analytics/usage";
import type { MetricParts } from "../metrics";

/** The most shards a tenant may ask for (schema/tenants.ts bounds `limits.shards` to this). */
export const MAX_TENANT_SHARDS = 64;

const SEPARATOR = "~";

/** The object name of a tenant's shard `k` (0: the tenant's own object). */
export function shardName(tenantId: string, shard: number): string {
  return shard === 0 ? tenantId : `${tenantId}${SEPARATOR}${shard}`;
}

/** The tenant and shard an object name stands for. */
export function parseShardName(name: string): { tenantId: string; shard: number } {
  const at = name.lastIndexOf(SEPARATOR);
  if (at < 0) return { tenantId: name, shard: 0 };
  const shard = Number(name.slice(at + 1));
  return Number.isInteger(shard) && shard > 0 ? { tenantId: name.slice(0, at), shard } : { tenantId: name, shard: 0 };
}

/** The tenant's shard count, as its limits say (1 for tenants from before shards existed). */
export function shardCount(tenant: Tenant): number {
  return Math.min(MAX_TENANT_SHARDS, Math.max(1, tenant.limits.shards ?? 1));
}

/** Shard `k`'s part of `total` split `n` ways: the parts add up to `total` exactly. */
export function share(total: number, n: number, k: number): number {
  if (n <= 1) return total;
  return Math.floor(total / n) + (k < total % n ? 1 : 0);
}

/**
 * The month's counts to give each of a tenant's shards when its shard count becomes `n`, given
 * what each counted so far (`used[k]`, for every shard it ever had): shard k < n gets
 * `share(M, n, k) − share(left, n, k)`, so what each may still open is its share of what is left
 * of the quota; those counts alone add up to what was used, so a shard k ≥ n (which opens
 * nothing more: runs are routed to shards below n) gets 0, or a later change would count its runs
 * twice. The quota stays exact across the change.
 */
export function quotaCounts(monthlyRuns: number, n: number, used: readonly number[]): number[] {
  const total = used.reduce((a, b) => a + b, 0);
  const left = Math.max(0, monthlyRuns - total);
  // Past the quota (it was lowered below what the month used): home keeps the excess counted.
  const over = Math.max(0, total - monthlyRuns);
  return used.map((_, k) => (k < n ? share(monthlyRuns, n, k) - share(left, n, k) + (k === 0 ? over : 0) : 0));
}

/**
 * Shard `k`'s running slots: its share, but at least one (a shard with none would never start a
 * run). The floor holds for an unsharded tenant too: a limit of 0 once returned 0 there.
 */
export function concurrencyShare(limit: number, n: number, k: number): number {
  return Math.max(1, share(limit, n, k));
}

/**
 * The shard a run opens on: the one owning its Idempotency-Key, or else `preferred` (the shard
 * the caller picked, when it is one of the tenant's).
 */
export function owningShard(idempotencyKey: string | undefined, n: number, preferred: number): number {
  if (n <= 1) return 0;
  if (idempotencyKey !== undefined) return shardOf(idempotencyKey, n);
  return preferred < n ? preferred : preferred % n;
}

/** A position in the tenant's run list (newest first): the last run a page showed. */
export interface RunCursor {
  createdAt: number;
  runId: string;
}

/** `a` before `b` in the list order: created later first, then the larger run id. */
function newerFirst(a: RunCursor, b: RunCursor): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0;
}

/**
 * Merges each shard's page (each newest first, from the same cursor, at most `limit` items plus
 * whether it has more) into the tenant's page. The next cursor is the last item shown: every
 * shard's next page starts strictly after it, so no run is skipped or shown twice.
 */
export function mergeRunPages(
  pages: readonly { items: RunSummary[]; next: RunCursor | null }[],
  limit: number,
): { items: RunSummary[]; next: RunCursor | null } {
  const keyed = pages.flatMap((p) => p.items.map((item) => ({ item, at: Date.parse(item.createdAt) })));
  keyed.sort((a, b) => newerFirst({ createdAt: a.at, runId: a.item.id }, { createdAt: b.at, runId: b.item.id }));
  const shown = keyed.slice(0, limit);
  const more = keyed.length > limit || pages.some((p) => p.next !== null);
  const last = shown[shown.length - 1];
  return { items: shown.map((k) => k.item), next: more && last ? { createdAt: last.at, runId: last.item.id } : null };
}

/** Sums usage roll-ups of the same grouping from several shards (by key, sorted as `rollUp` sorts). */
export function mergeUsage(parts: readonly UsageGroupRow[][]): UsageGroupRow[] {
  const groups = new Map<string, UsageGroupRow>();
  for (const row of parts.flat()) {
    let g = groups.get(row.key);
    if (!g) {
      g = { key: row.key, runs: 0, succeeded: 0, failed: 0, ...emptyTotals(), models: {} };
      groups.set(row.key, g);
    }
    g.runs += row.runs;
    g.succeeded += row.succeeded;
    g.failed += row.failed;
    addTotals(g, row);
    addModels(g.models, row.models);
  }
  return [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Running and waiting runs summed over shards. */
export function sumCounts(parts: readonly { running: number; waiting: number }[]): {
  running: number;
  waiting: number;
} {
  return parts.reduce((s, p) => ({ running: s.running + p.running, waiting: s.waiting + p.waiting }), {
    running: 0,
    waiting: 0,
  });
}

/** Running runs by project summed over shards. */
export function sumByProject(parts: readonly Record<string, number>[]): Map<string, number> {
  const sum = new Map<string, number>();
  for (const part of parts)
    for (const [project, n] of Object.entries(part)) sum.set(project, (sum.get(project) ?? 0) + n);
  return sum;
}

/** Home's metric parts with the shards' run parts added (webhooks and approvals live at home only). */
export function mergeMetricParts(home: MetricParts, shards: readonly MetricParts[]): MetricParts {
  return {
    ...home,
    finished: [...home.finished, ...shards.flatMap((s) => s.finished)],
    now: sumCounts([home.now, ...shards.map((s) => s.now)]),
    backlog: [...home.backlog, ...shards.flatMap((s) => s.backlog)],
  };
}

/**
 * How many shards home must ask when it reads the run index: the most the tenant ever had, so
 * runs opened before `shards` was lowered are still counted and listed.
 */
export const SHARDS_MIGRATION = [
  `CREATE TABLE shard_span (id INTEGER PRIMARY KEY CHECK (id = 0), high INTEGER NOT NULL)`,
  // A shard's final syncs waiting to be settled at home (artifact versions, budget charge).
  `CREATE TABLE settlement (run_id TEXT PRIMARY KEY, sync TEXT NOT NULL, at INTEGER NOT NULL)`,
];

/**
 * A shard hands its runs' final syncs to home in batches, by its alarm, at most this long after
 * the first waits: home takes one call per batch (up to SETTLE_BATCH runs) instead of one a run.
 * An artifact's version and a run's budget charge appear at home that much later.
 */
export const SETTLE_DELAY_MS = 1_000;
export const SETTLE_BATCH = 200;

/** How long a shard trusts what home said of a project's budget and scanning policy. */
export const SHARD_CONTEXT_MS = 5_000;
