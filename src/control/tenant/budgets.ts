/**
 * A tenant's cost budgets: the policy an operator set, what each run cost (charged once, from the
 * usage its final sync carries, in the month it ended) and which thresholds each month crossed.
 *
 * Spending moves only when a run ends, on the sync the run sends its tenant anyway: no call per
 * step. Admission reads the month's totals from memory, so a run already admitted is never
 * stopped; the budget is overshot by at most what the runs admitted before the crossing cost.
 */
import type { BudgetAction, BudgetLine, BudgetPolicy, BudgetReport, ExceededBudget } from "../../../schema/budgets";
import { all, json, one } from "../sqlite";

export const BUDGET_MIGRATION = [
  `CREATE TABLE budget (id INTEGER PRIMARY KEY CHECK (id = 1), policy TEXT NOT NULL, updated_at INTEGER NOT NULL)`,
  `CREATE TABLE run_spend (run_id TEXT PRIMARY KEY, month TEXT NOT NULL, project TEXT NOT NULL, usd REAL NOT NULL)`,
  `CREATE INDEX run_spend_month ON run_spend (month, project)`,
  `CREATE TABLE budget_crossed (
    month TEXT NOT NULL, scope TEXT NOT NULL, threshold REAL NOT NULL, at INTEGER NOT NULL,
    PRIMARY KEY (month, scope, threshold))`,
];

/** A calendar month (UTC) as `YYYY-MM`. */
export const monthOf = (ms: number): string => new Date(ms).toISOString().slice(0, 7);

/** How long until the next calendar month (UTC) begins: when a monthly limit opens again. */
export const untilNextMonth = (now: number): number => monthBounds(monthOf(now)).end - now;

/** The month's bounds in ms since the epoch. */
function monthBounds(month: string): { start: number; end: number } {
  const [y, m] = month.split("-").map(Number) as [number, number];
  return { start: Date.UTC(y, m - 1, 1), end: Date.UTC(y, m, 1) };
}

/** A threshold crossed, for the tenant's webhooks (`budget.threshold_crossed`). */
export interface Crossing {
  month: string;
  project: string | null;
  threshold: number;
  limitUsd: number;
  spentUsd: number;
  onExceeded: BudgetAction;
  at: number;
}

/** What a budget does to a new run of `project` now. */
export type BudgetVerdict =
  | { action: "none" }
  | { action: "block"; budget: ExceededBudget }
  | { action: "cost-saving"; model: string | null };

interface MonthTotals {
  month: string;
  /** USD and runs charged, by project. */
  byProject: Map<string, { usd: number; runs: number }>;
  /** `${scope}|${threshold}` crossed this month; scope "" is the tenant. */
  crossed: Set<string>;
}

const round = (usd: number) => Math.round(usd * 1e6) / 1e6;

export class BudgetBook {
  /** undefined until read; null: no budget set. */
  private cachedPolicy: BudgetPolicy | null | undefined;
  /** The current month's totals, read once per object lifetime (and month), then kept up to date. */
  private totals: MonthTotals | undefined;

  constructor(private readonly sql: SqlStorage) {}

  policy(): BudgetPolicy | null {
    if (this.cachedPolicy === undefined)
      this.cachedPolicy = json.read<BudgetPolicy>(
        one<{ policy: string }>(this.sql, "SELECT policy FROM budget WHERE id = 1")?.policy ?? null,
      );
    return this.cachedPolicy;
  }

  /**
   * Replaces the policy, and answers the thresholds the month's spending already reached under
   * it. A limit lowered below what is spent applies from the next run on.
   */
  set(policy: BudgetPolicy, now: number): Crossing[] {
    this.sql.exec(
      "INSERT INTO budget (id, policy, updated_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
      JSON.stringify(policy),
      now,
    );
    this.cachedPolicy = policy;
    return this.cross(monthOf(now), [null, ...Object.keys(policy.projects ?? {})], now);
  }

  /**
   * Charges a run that ended at `at` (once: a repeated sync charges nothing) and answers the
   * thresholds this crossed. Without a budget it is one statement.
   */
  charge(run: { runId: string; project: string; at: number; usd: number }): Crossing[] {
    const month = monthOf(run.at);
    const written = this.sql.exec(
      "INSERT INTO run_spend (run_id, month, project, usd) VALUES (?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING",
      run.runId,
      month,
      run.project,
      run.usd,
    ).rowsWritten;
    if (written === 0) return [];
    if (this.totals?.month === month) {
      const p = this.totals.byProject.get(run.project) ?? { usd: 0, runs: 0 };
      this.totals.byProject.set(run.project, { usd: p.usd + run.usd, runs: p.runs + 1 });
    }
    return this.cross(month, [null, run.project], run.at);
  }

  /**
   * Records and answers the thresholds of these scopes (null: the tenant) that the month's
   * spending has reached and that were not crossed yet: each once per month.
   */
  cross(month: string, scopes: readonly (string | null)[], at: number): Crossing[] {
    const policy = this.policy();
    if (!policy) return [];
    const totals = this.month(month);
    const crossings: Crossing[] = [];
    for (const scope of scopes) {
      const limitUsd = scope === null ? policy.monthlyUsd : policy.projects?.[scope];
      if (limitUsd === undefined) continue;
      const spentUsd = this.spent(totals, scope);
      for (const threshold of policy.thresholds) {
        const key = `${scope ?? ""}|${threshold}`;
        if (totals.crossed.has(key) || spentUsd < threshold * limitUsd) continue;
        totals.crossed.add(key);
        const inserted = this.sql.exec(
          "INSERT INTO budget_crossed (month, scope, threshold, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
          month,
          scope ?? "",
          threshold,
          at,
        ).rowsWritten;
        if (inserted > 0)
          crossings.push({
            month,
            project: scope,
            threshold,
            limitUsd,
            spentUsd: round(spentUsd),
            onExceeded: policy.onExceeded,
            at,
          });
      }
    }
    return crossings;
  }

  /** What the budget does to a new run of `project` now: the tenant's budget first, then the project's. */
  verdict(project: string, now: number): BudgetVerdict {
    const policy = this.policy();
    if (!policy || policy.onExceeded === "notify") return { action: "none" };
    const totals = this.month(monthOf(now));
    for (const scope of [null, project]) {
      const limitUsd = scope === null ? policy.monthlyUsd : policy.projects?.[scope];
      if (limitUsd === undefined) continue;
      const spentUsd = this.spent(totals, scope);
      if (spentUsd < limitUsd) continue;
      if (policy.onExceeded === "cost-saving") return { action: "cost-saving", model: policy.costSavingModel ?? null };
      return { action: "block", budget: { month: totals.month, project: scope, limitUsd, spentUsd: round(spentUsd) } };
    }
    return { action: "none" };
  }

  /** The month's report; `running` counts each project's running runs (for what they commit). */
  report(month: string, now: number, running: Map<string, number>): BudgetReport {
    const policy = this.policy();
    const totals = this.month(month);
    const { start, end } = monthBounds(month);
    // Linear: what was spent so far, at the rate so far, over the whole month. A past month is what it was.
    const elapsed = Math.min(1, Math.max((now - start) / (end - start), 1 / (end - start)));
    const line = (scope: string | null, limitUsd: number): BudgetLine => {
      const spentUsd = this.spent(totals, scope);
      const runs = this.runs(totals, scope);
      const live =
        now >= start && now < end
          ? scope === null
            ? [...running.values()].reduce((a, b) => a + b, 0)
            : (running.get(scope) ?? 0)
          : 0;
      const committedUsd = runs > 0 ? (spentUsd / runs) * live : 0;
      return {
        project: scope,
        limitUsd,
        spentUsd: round(spentUsd),
        committedUsd: round(committedUsd),
        forecastUsd: round(spentUsd / elapsed + committedUsd),
        thresholdsCrossed: (policy?.thresholds ?? []).filter((t) => totals.crossed.has(`${scope ?? ""}|${t}`)),
        exceeded: spentUsd >= limitUsd,
      };
    };
    const tenant = policy ? line(null, policy.monthlyUsd) : null;
    const projects = Object.entries(policy?.projects ?? {})
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([project, limitUsd]) => line(project, limitUsd));
    const exceeded = tenant?.exceeded || projects.some((l) => l.exceeded);
    return { month, policy, tenant, projects, action: policy && exceeded ? policy.onExceeded : "none" };
  }

  private spent(totals: MonthTotals, scope: string | null): number {
    if (scope !== null) return totals.byProject.get(scope)?.usd ?? 0;
    let usd = 0;
    for (const p of totals.byProject.values()) usd += p.usd;
    return usd;
  }

  private runs(totals: MonthTotals, scope: string | null): number {
    if (scope !== null) return totals.byProject.get(scope)?.runs ?? 0;
    let runs = 0;
    for (const p of totals.byProject.values()) runs += p.runs;
    return runs;
  }

  /** A month's totals: the current month's from memory once read; another month's read afresh. */
  private month(month: string): MonthTotals {
    if (this.totals?.month === month) return this.totals;
    const totals: MonthTotals = {
      month,
      byProject: new Map(
        all<{ project: string; usd: number; runs: number }>(
          this.sql,
          "SELECT project, SUM(usd) AS usd, COUNT(*) AS runs FROM run_spend WHERE month = ? GROUP BY project",
          month,
        ).map((r) => [r.project, { usd: r.usd, runs: r.runs }]),
      ),
      crossed: new Set(
        all<{ scope: string; threshold: number }>(
          this.sql,
          "SELECT scope, threshold FROM budget_crossed WHERE month = ?",
          month,
        ).map((r) => `${r.scope}|${r.threshold}`),
      ),
    };
    // Keep the newest month seen: the current one (an older report does not evict it).
    if (!this.totals || month > this.totals.month) this.totals = totals;
    return totals;
  }
}
