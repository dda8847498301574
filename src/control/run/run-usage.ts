/**
 * What the run used, per pool and in total, from the attempts it recorded and the artifacts they
 * wrote. Steps carried over from a retried run used nothing here: they have no attempts.
 */
import { addModels, addTotals, emptyTotals } from "../../analytics/usage";
import { must } from "../../lib/must";
import type { RunSql } from "./store-sql";
import type { MeteredUsage, RunUsage } from "../../../schema/usage";
import type { ErrorShape } from "../../../schema/errors";
import type { RunOutcome } from "../../../schema/run";
import { json } from "../sqlite";
import type { RunRow } from "./rows";

/** How long the finished run took, waited for admission, and the code it failed with: its tenant's figures. */
export function runOutcome(run: RunRow, now: number): RunOutcome {
  const end = run.finished_at ?? now;
  return {
    durationMs: end - run.created_at,
    queuedMs: (run.started_at ?? end) - run.created_at,
    errorCode: json.read<ErrorShape>(run.error)?.code ?? null,
  };
}

export class UsageReader {
  /** Asked for twice at a run's end (the tenant's sync, the analytics points); attempt and artifact writes drop it. */
  private cached: RunUsage | undefined;

  constructor(private readonly q: RunSql) {}

  /** An attempt or an artifact was written (or a transaction rolled back). */
  drop(): void {
    this.cached = undefined;
  }

  get(): RunUsage {
    this.cached ??= this.read();
    return this.cached;
  }

  /** Attempts' totals, artifact bytes and per-model tokens, by pool, in one statement. */
  private read(): RunUsage {
    const pools: Record<string, MeteredUsage> = {};
    const pool = (name: string) => (pools[name] ??= { ...emptyTotals(), models: {} });
    type UsageRow = { part: "attempts" | "bytes" | "model"; pool: string; model: string | null } & Omit<
      MeteredUsage,
      "models"
    >;
    // A run whose steps wrote no artifact has no artifact table (lazy-tables.ts).
    const bytes = this.q.tables.has("artifact")
      ? `
       SELECT 'bytes', s.pool, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, SUM(f.size) FROM artifact f
       JOIN step s ON s.id = f.step_id JOIN attempt a ON a.step_id = f.step_id AND a.attempt = f.attempt GROUP BY s.pool
       UNION ALL`
      : "";
    for (const r of this.q.all<UsageRow>(
      `SELECT 'attempts' AS part, s.pool AS pool, NULL AS model, COUNT(DISTINCT a.step_id) AS steps, COUNT(*) AS attempts,
         COALESCE(SUM(a.finished_at - a.started_at), 0) AS wallMs,
         COALESCE(SUM(json_extract(a.usage, '$.cpuMs')), 0) AS cpuMs,
         COALESCE(SUM(json_extract(a.usage, '$.tokensIn')), 0) AS tokensIn,
         COALESCE(SUM(json_extract(a.usage, '$.tokensOut')), 0) AS tokensOut,
         COALESCE(SUM(json_extract(a.usage, '$.queueOps')), 0) AS queueOps,
         COALESCE(SUM(json_extract(a.usage, '$.objectCalls')), 0) AS objectCalls,
         COALESCE(SUM(json_extract(a.usage, '$.r2Writes')), 0) AS r2Writes, 0 AS artifactBytes
       FROM attempt a JOIN step s ON s.id = a.step_id GROUP BY s.pool
       UNION ALL${bytes}
       SELECT 'model', s.pool, m.key, 0, 0, 0, 0, SUM(json_extract(m.value, '$.tokensIn')), SUM(json_extract(m.value, '$.tokensOut')), 0, 0, 0, 0
       FROM attempt a JOIN step s ON s.id = a.step_id, json_each(a.usage, '$.models') m WHERE a.usage IS NOT NULL GROUP BY s.pool, m.key`,
    )) {
      const { part, pool: name, model, ...totals } = r;
      if (part === "attempts") Object.assign(pool(name), { ...totals, artifactBytes: pool(name).artifactBytes });
      else if (part === "bytes") pool(name).artifactBytes = totals.artifactBytes;
      else
        pool(name).models[must(model, "a model row's model")] = {
          tokensIn: totals.tokensIn,
          tokensOut: totals.tokensOut,
        };
    }
    return sumPools(pools);
  }
}

/** A run's totals are its pools' totals added up. */
function sumPools(pools: Record<string, MeteredUsage>): RunUsage {
  const total: RunUsage = { ...emptyTotals(), models: {}, pools };
  for (const p of Object.values(pools)) {
    addTotals(total, p);
    addModels(total.models, p.models);
  }
  return total;
}
