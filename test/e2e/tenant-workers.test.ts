/**
 * Issue 27's crash test on a real `wrangler dev`: 2 tenants × 2 pools × 4 workers with different
 * labels, 200 steps. Every step is executed by a worker of its own tenant whose labels satisfy its
 * job type's `requires.labels` (and which named its kind), exactly once. The two tenants use the
 * same pool and job type names on purpose: only the tenant in the token and the key tells them apart.
 * Workers are plain fetch loops, as any HTTP client would be.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Runtime, startRuntime, waitForRun } from "./support/runtime";

let rt: Runtime;
const TENANTS = ["alpha", "bravo"] as const;
const keys: Record<string, string> = {};

/** Job types, the same names in both tenants: pool and required labels. */
const TYPES = [
  { name: "acme.build", pool: "cpu", requires: {} },
  { name: "acme.arm", pool: "cpu", requires: { arch: "arm" } },
  { name: "acme.train", pool: "gpu", requires: { gpu: "a100" } },
  { name: "acme.infer", pool: "gpu", requires: {} },
] as const;

/** Four workers per pool, with different labels; one names only some kinds. */
const WORKERS: Record<string, { labels: Record<string, string>; kinds?: string[] }[]> = {
  cpu: [
    { labels: { arch: "arm" } },
    { labels: { arch: "x86" } },
    { labels: { arch: "arm", region: "eu" }, kinds: ["acme.arm"] },
    { labels: {} },
  ],
  gpu: [
    { labels: { gpu: "a100" } },
    { labels: { gpu: "t4" } },
    { labels: { gpu: "a100" }, kinds: ["acme.train"] },
    { labels: {} },
  ],
};

interface Execution {
  tenant: string;
  pool: string;
  worker: string;
  labels: Record<string, string>;
  kinds?: string[];
  runId: string;
  stepId: string;
  type: string;
  input: { tenant: string };
}

const executions: Execution[] = [];
let stopping = false;

async function ok<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`${res.status}: ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

/** A worker: long-poll, then report. Network errors are retried (a lost lease lapses and is re-dispatched). */
async function work(tenant: string, pool: string, token: string, index: number): Promise<void> {
  const { labels, kinds } = WORKERS[pool]![index]!;
  const worker = `${tenant}-${pool}-${index}`;
  const auth = { authorization: `Bearer ${token}` };
  while (!stopping) {
    try {
      const res = await rt.fetch(`/v1/pools/${pool}/leases`, {
        method: "POST",
        headers: auth,
        json: { waitMs: 1_000, labels, workerId: worker, ...(kinds ? { kinds } : {}) },
      });
      if (res.status === 204) continue;
      const { lease } = await ok<{
        lease: { id: string; runId: string; stepId: string; type: string; input: Execution["input"] };
      }>(res, 200);
      const reported = await rt.fetch(`/v1/pools/${pool}/leases/${lease.id}/result`, {
        method: "POST",
        headers: auth,
        json: { outcome: "succeeded", output: { worker } },
      });
      if (reported.status === 200)
        executions.push({ tenant, pool, worker, labels, ...(kinds ? { kinds } : {}), ...lease });
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

beforeAll(async () => {
  rt = await startRuntime();
  const admin = { authorization: `Bearer ${rt.adminToken}` };
  for (const tenant of TENANTS) {
    await ok(
      await rt.fetch("/v1/admin/tenants", { method: "POST", headers: admin, json: { id: tenant, name: tenant } }),
      201,
    );
    const made = await ok<{ key: string }>(
      await rt.fetch(`/v1/admin/tenants/${tenant}/keys`, {
        method: "POST",
        headers: admin,
        json: { scopes: ["runs:read", "runs:write", "workers:manage"] },
      }),
      201,
    );
    keys[tenant] = made.key;
  }
}, 120_000);

afterAll(async () => {
  stopping = true;
  await rt?.stop();
});

it("2 tenants × 2 pools × 4 workers, 200 steps: each run once, by a matching worker of its own tenant", async () => {
  const loops: Promise<void>[] = [];
  for (const tenant of TENANTS) {
    const t = rt.as(keys[tenant]!);
    for (const pool of ["cpu", "gpu"]) {
      await ok(await t.fetch("/v1/pools", { method: "POST", json: { name: pool } }), 201);
      for (let i = 0; i < 4; i++) {
        const { token } = await ok<{ token: string }>(
          await t.fetch(`/v1/pools/${pool}/tokens`, { method: "POST" }),
          201,
        );
        loops.push(work(tenant, pool, token, i));
      }
    }
    for (const type of TYPES) {
      const body = {
        ...type,
        requires: { labels: type.requires },
        timeoutMs: 30_000,
        input: { type: "object", properties: { tenant: { const: tenant } }, required: ["tenant"] },
        output: { type: "object", properties: { worker: { type: "string" } }, required: ["worker"] },
      };
      await ok(await t.fetch("/v1/job-types", { method: "POST", json: body }), 201);
    }
  }

  // 10 runs of 10 independent steps per tenant: 200 steps, the four types interleaved.
  const runs: { tenant: string; id: string }[] = [];
  for (const tenant of TENANTS)
    for (let r = 0; r < 10; r++) {
      const steps = Array.from({ length: 10 }, (_, s) => ({
        id: `s${s}`,
        type: TYPES[(r + s) % TYPES.length]!.name,
        input: { tenant },
        retry: { maxAttempts: 3 },
      }));
      const run = await ok<{ id: string }>(
        await rt.as(keys[tenant]!).fetch("/v1/runs", { method: "POST", json: { project: "crash", steps } }),
        202,
      );
      runs.push({ tenant, id: run.id });
    }

  for (const run of runs) {
    const done = await waitForRun(rt.as(keys[run.tenant]!), run.id, 240_000);
    expect(done.status, JSON.stringify(done.steps)).toBe("succeeded");
  }
  stopping = true;
  await Promise.all(loops);

  expect(executions).toHaveLength(200);
  const seen = new Set<string>();
  const tenantOf = new Map(runs.map((r) => [r.id, r.tenant]));
  for (const e of executions) {
    const key = `${e.runId}/${e.stepId}`;
    expect(seen.has(key), `${key} executed twice`).toBe(false);
    seen.add(key);
    // Its own tenant's run (the token's tenant), its input made for that tenant.
    expect(tenantOf.get(e.runId)).toBe(e.tenant);
    expect(e.input.tenant).toBe(e.tenant);
    const type = TYPES.find((t) => t.name === e.type)!;
    expect(e.pool).toBe(type.pool);
    for (const [k, v] of Object.entries(type.requires)) expect(e.labels[k], `${key} on ${e.worker}`).toBe(v);
    if (e.kinds) expect(e.kinds).toContain(e.type);
  }
  // The book of workers agrees: completions per tenant pool add up to what the workers did.
  for (const tenant of TENANTS)
    for (const pool of ["cpu", "gpu"]) {
      const { items } = await ok<{ items: { id: string; completed: number }[] }>(
        await rt.as(keys[tenant]!).fetch(`/v1/pools/${pool}/workers`),
        200,
      );
      const done = executions.filter((e) => e.tenant === tenant && e.pool === pool).length;
      expect(items.reduce((n, w) => n + w.completed, 0)).toBe(done);
      expect(items.every((w) => w.id.startsWith(`${tenant}-${pool}-`))).toBe(true);
    }
}, 600_000);
