/**
 * The Workers Durable Object: one per tenant (addressed by the tenant's id), the registry of the
 * tenant's own pools and job types (issue 27). Asked when they are managed and when a run that
 * names one of the tenant's job types is created (once per run, to pin the current versions);
 * never by a run of built-in job types, and never on a worker's lease path (that is the pool's
 * own object, `POOL` named `<tenant>:<pool>`).
 */
import type { StepFlowSpec } from "../../../schema/flow";
import { DurableObject } from "cloudflare:workers";
import { type Refusal, refuse } from "../../../schema/errors";
import {
  type CreateJobTypeBody,
  type CreatePoolBody,
  type JobTypeVersion,
  type PoolView,
  WORKER_LIMITS,
} from "../../../schema/workers";
import type { Env } from "../../env";
import { all, execIn, json, migratedSql, type Migration, one } from "../sqlite";

/** Exported for the upgrade tests (test/integration/upgrades.test.ts). */
export const MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE pool (name TEXT PRIMARY KEY, labels TEXT NOT NULL, created_at INTEGER NOT NULL)`,
    `CREATE TABLE job_type (
      name TEXT NOT NULL, version INTEGER NOT NULL, pool TEXT NOT NULL, description TEXT,
      input TEXT NOT NULL, output TEXT NOT NULL, timeout_ms INTEGER, retry TEXT, requires TEXT NOT NULL,
      created_at INTEGER NOT NULL, PRIMARY KEY (name, version))`,
  ],
  // v2: a version's step keys (JSON of StepFlowSpec, docs/flow-control.md; null: none), pinned with it.
  [`ALTER TABLE job_type ADD COLUMN flow TEXT`],
];

interface PoolRow {
  name: string;
  labels: string;
  created_at: number;
}

interface JobTypeRow {
  name: string;
  version: number;
  pool: string;
  description: string | null;
  input: string;
  output: string;
  timeout_ms: number | null;
  retry: string | null;
  requires: string;
  created_at: number;
  flow: string | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

const poolView = (r: PoolRow): PoolView => ({
  name: r.name,
  labels: json.read<Record<string, string>>(r.labels) ?? {},
  createdAt: iso(r.created_at),
});

const versionView = (r: JobTypeRow): JobTypeVersion => ({
  name: r.name,
  version: r.version,
  pool: r.pool,
  description: r.description,
  input: json.read<Record<string, unknown>>(r.input) ?? {},
  output: json.read<Record<string, unknown>>(r.output) ?? {},
  timeoutMs: r.timeout_ms,
  retry: json.read<JobTypeVersion["retry"]>(r.retry),
  requires: { labels: json.read<Record<string, string>>(r.requires) ?? {} },
  ...json.read<StepFlowSpec>(r.flow),
  createdAt: iso(r.created_at),
});

/** The newest version of each name, by name. */
const LATEST = `SELECT j.* FROM job_type j
  WHERE j.version = (SELECT MAX(version) FROM job_type k WHERE k.name = j.name)`;

export class WorkersObject extends DurableObject<Env> {
  private readonly sql = migratedSql(this.ctx, MIGRATIONS);

  createPool(body: CreatePoolBody): PoolView | Refusal {
    if (this.pool(body.name)) return refuse("pool.exists", `the tenant has a pool named '${body.name}' already`);
    const count = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM pool").one().n;
    if (count >= WORKER_LIMITS.pools) return refuse("pool.limit", `a tenant has at most ${WORKER_LIMITS.pools} pools`);
    const row: PoolRow = { name: body.name, labels: JSON.stringify(body.labels ?? {}), created_at: Date.now() };
    this.sql.exec("INSERT INTO pool (name, labels, created_at) VALUES (?, ?, ?)", row.name, row.labels, row.created_at);
    return poolView(row);
  }

  listPools(): PoolView[] {
    return all<PoolRow>(this.sql, "SELECT * FROM pool ORDER BY name").map(poolView);
  }

  pool(name: string): PoolView | null {
    const row = one<PoolRow>(this.sql, "SELECT * FROM pool WHERE name = ?", name);
    return row ? poolView(row) : null;
  }

  /** Deletes a pool no current job type version routes to. */
  deletePool(name: string): { ok: true } | Refusal {
    if (!this.pool(name)) return refuse("pool.not_found", `the tenant has no pool named '${name}'`);
    const users = all<{ name: string }>(this.sql, `SELECT name FROM (${LATEST}) WHERE pool = ? LIMIT 5`, name);
    if (users.length > 0)
      return refuse("pool.in_use", `job types route to this pool: ${users.map((u) => u.name).join(", ")}`);
    this.sql.exec("DELETE FROM pool WHERE name = ?", name);
    return { ok: true };
  }

  /** A new version of a job type (schemas checked by the caller); versions only increase. */
  putJobType(body: CreateJobTypeBody): JobTypeVersion | Refusal {
    if (!this.pool(body.pool))
      return refuse("pool.not_found", `the tenant has no pool named '${body.pool}' (POST /v1/pools first)`);
    const latest = one<{ v: number | null }>(
      this.sql,
      "SELECT MAX(version) AS v FROM job_type WHERE name = ?",
      body.name,
    )?.v;
    if (latest === null || latest === undefined) {
      const names = this.sql.exec<{ n: number }>("SELECT COUNT(DISTINCT name) AS n FROM job_type").one().n;
      if (names >= WORKER_LIMITS.jobTypes)
        return refuse("job_type.limit", `a tenant has at most ${WORKER_LIMITS.jobTypes} job types`);
    }
    const version = body.version ?? (latest ?? 0) + 1;
    if (latest !== null && latest !== undefined && version <= latest)
      return refuse(
        "job_type.version_conflict",
        `version ${version} of '${body.name}' is not newer than version ${latest}: versions are immutable and increase`,
      );
    const count = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM job_type WHERE name = ?", body.name).one().n;
    if (count >= WORKER_LIMITS.versions)
      return refuse("job_type.limit", `a job type keeps at most ${WORKER_LIMITS.versions} versions`);
    const row: JobTypeRow = {
      name: body.name,
      version,
      pool: body.pool,
      description: body.description ?? null,
      input: JSON.stringify(body.input),
      output: JSON.stringify(body.output),
      timeout_ms: body.timeoutMs ?? null,
      retry: body.retry ? JSON.stringify(body.retry) : null,
      requires: JSON.stringify(body.requires?.labels ?? {}),
      created_at: Date.now(),
      flow:
        body.concurrency || body.rateLimit
          ? JSON.stringify({
              ...(body.concurrency ? { concurrency: body.concurrency } : {}),
              ...(body.rateLimit ? { rateLimit: body.rateLimit } : {}),
            })
          : null,
    };
    this.sql.exec(
      `INSERT INTO job_type (name, version, pool, description, input, output, timeout_ms, retry, requires, created_at, flow)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ...Object.values(row),
    );
    return versionView(row);
  }

  /** The newest version of each of the tenant's job types. */
  listJobTypes(): JobTypeVersion[] {
    return all<JobTypeRow>(this.sql, `${LATEST} ORDER BY j.name`).map(versionView);
  }

  /** Every version of one job type, newest first; empty when the tenant has none by that name. */
  jobTypeVersions(name: string): JobTypeVersion[] {
    return all<JobTypeRow>(this.sql, "SELECT * FROM job_type WHERE name = ? ORDER BY version DESC", name).map(
      versionView,
    );
  }

  /** The current version of each of `names` the tenant has (a run pins these at creation). */
  current(names: readonly string[]): JobTypeVersion[] {
    return execIn<JobTypeRow>(this.sql, `${LATEST} AND j.name IN (?)`, names).map(versionView);
  }
}
