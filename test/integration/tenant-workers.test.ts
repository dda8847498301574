/**
 * A tenant's own workers (issue 27): its pools and tokens, its job types (versions pinned by
 * runs, input and output checked against JSON Schema), capability routing by kinds and labels,
 * `step.unroutable`, and isolation: another tenant's token, key or job type reaches nothing.
 */
import { reset, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, api, createRun, events, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

const SCOPES = { scopes: ["runs:read", "runs:write", "workers:manage"] };

interface Lease {
  id: string;
  runId: string;
  stepId: string;
  attempt: number;
  type: string;
  input: Record<string, unknown>;
}

const LINT = {
  name: "acme.lint",
  pool: "linters",
  input: {
    type: "object",
    properties: { file: { type: "string", minLength: 1 }, strict: { type: "boolean" } },
    required: ["file"],
    additionalProperties: false,
  },
  output: {
    type: "object",
    properties: { problems: { type: "integer", minimum: 0 } },
    required: ["problems"],
  },
};

async function ok<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return (text ? JSON.parse(text) : null) as T;
}

async function problem(res: Response, status: number, code: string) {
  const body = await ok<{ code: string; detail?: string; errors?: { path: string; message: string }[] }>(res, status);
  expect(body.code).toBe(code);
  return body;
}

async function tenantWith(id: string, limits?: Record<string, number>): Promise<string> {
  const key = await newTenantKey(id, SCOPES);
  if (limits)
    await ok(await api(`/v1/admin/tenants/${id}`, { method: "PATCH", key: ADMIN_TOKEN, json: { limits } }), 200);
  return key;
}

async function pool(key: string, name: string): Promise<string> {
  await ok(await api("/v1/pools", { method: "POST", key, json: { name } }), 201);
  return (await ok<{ token: string }>(await api(`/v1/pools/${name}/tokens`, { method: "POST", key }), 201)).token;
}

const lease = (token: string, pool: string, body: Record<string, unknown>) =>
  api(`/v1/pools/${pool}/leases`, { method: "POST", key: token, json: { waitMs: 0, ...body } });

async function take(token: string, pool: string, body: Record<string, unknown> = {}): Promise<Lease> {
  return (await ok<{ lease: Lease }>(await lease(token, pool, { ...body, waitMs: 10_000 }), 200)).lease;
}

const report = (token: string, pool: string, l: Lease, output: Record<string, unknown>) =>
  api(`/v1/pools/${pool}/leases/${l.id}/result`, {
    method: "POST",
    key: token,
    json: { outcome: "succeeded", output },
  });

describe("tenant pools and tokens", () => {
  it("live in an object per tenant × pool; bad names, duplicates and the limit are refused", async () => {
    const key = await tenantWith("acme");
    const token = await pool(key, "linters");
    expect(token).toMatch(/^fwt_acme_linters_[0-9a-z]{12}_[0-9a-z]{40}$/);
    await problem(await api("/v1/pools", { method: "POST", key, json: { name: "linters" } }), 409, "pool.exists");
    await problem(await api("/v1/pools", { method: "POST", key, json: { name: "external" } }), 400, "request.invalid");
    await problem(await api("/v1/pools", { method: "POST", key, json: { name: "Bad_Name" } }), 400, "request.invalid");
    const badLabels = await api("/v1/pools", { method: "POST", key, json: { name: "x", labels: { "GPU!": "a" } } });
    await problem(badLabels, 400, "request.invalid");
    await problem(await api("/v1/pools/nope/tokens", { method: "POST", key }), 404, "pool.not_found");
    for (let i = 1; i < 20; i++)
      await ok(await api("/v1/pools", { method: "POST", key, json: { name: `p${i}` } }), 201);
    await problem(await api("/v1/pools", { method: "POST", key, json: { name: "p20" } }), 409, "pool.limit");
    const listed = await ok<{ items: { name: string }[] }>(await api("/v1/pools", { key }), 200);
    expect(listed.items).toHaveLength(20);

    // The lease path reaches the pool object named for the tenant, never a deployment-wide one.
    await ok(await lease(token, "linters", { workerId: "w-1", labels: { os: "linux" } }), 204);
    const named = (await env.POOL.getByName("acme:linters").workers()) as { id: string }[];
    expect(named.map((w) => w.id)).toEqual(["w-1"]);
    expect(await env.POOL.getByName("linters").workers()).toEqual([]);

    // Tokens are listed without secrets and revoked by the tenant.
    const tokens = await ok<{ items: { id: string; revokedAt: string | null }[] }>(
      await api("/v1/pools/linters/tokens", { key }),
      200,
    );
    expect(tokens.items).toHaveLength(1);
    expect(JSON.stringify(tokens.items)).not.toContain(token.split("_").at(-1));
    await ok(await api(`/v1/pools/linters/tokens/${tokens.items[0]!.id}`, { method: "DELETE", key }), 204);
    await problem(await lease(token, "linters", {}), 401, "auth.unauthenticated");
  });

  it("a pool a job type routes to is not deleted; an unused one is, and its tokens stop", async () => {
    const key = await tenantWith("acme");
    await pool(key, "linters");
    const spare = await pool(key, "spare");
    await ok(await api("/v1/job-types", { method: "POST", key, json: LINT }), 201);
    await problem(await api("/v1/pools/linters", { method: "DELETE", key }), 409, "pool.in_use");
    await ok(await api("/v1/pools/spare", { method: "DELETE", key }), 204);
    await problem(await lease(spare, "spare", {}), 401, "auth.unauthenticated");
    await problem(await api("/v1/pools/spare", { key }), 404, "pool.not_found");
  });

  it("managing pools and job types needs workers:manage", async () => {
    const plain = await newTenantKey("acme");
    await problem(
      await api("/v1/pools", { method: "POST", key: plain, json: { name: "x" } }),
      403,
      "auth.insufficient_scope",
    );
    await problem(
      await api("/v1/job-types", { method: "POST", key: plain, json: LINT }),
      403,
      "auth.insufficient_scope",
    );
    await ok(await api("/v1/pools", { key: plain }), 200);
  });
});

describe("tenant job types", () => {
  it("refuses reserved namespaces, invalid schemas, unknown pools, older versions and too many", async () => {
    const key = await tenantWith("acme");
    await pool(key, "linters");
    for (const name of ["system.lint", "agent.x", "repo.y", "external.z", "ai.chat", "deliver.w"])
      await problem(
        await api("/v1/job-types", { method: "POST", key, json: { ...LINT, name } }),
        400,
        "job_type.reserved",
      );
    const bad = await problem(
      await api("/v1/job-types", { method: "POST", key, json: { ...LINT, output: { type: "integr" } } }),
      400,
      "job_type.invalid_schema",
    );
    expect(bad.errors?.[0]?.path).toMatch(/^output/);
    const badPattern = { ...LINT, input: { type: "object", properties: { f: { type: "string", pattern: "(" } } } };
    await problem(
      await api("/v1/job-types", { method: "POST", key, json: badPattern }),
      400,
      "job_type.invalid_schema",
    );
    await problem(
      await api("/v1/job-types", { method: "POST", key, json: { ...LINT, pool: "nope" } }),
      404,
      "pool.not_found",
    );
    const badRequires = { ...LINT, requires: { labels: { "Not Valid": "x" } } };
    await problem(await api("/v1/job-types", { method: "POST", key, json: badRequires }), 400, "request.invalid");

    const v1 = await ok<{ version: number }>(await api("/v1/job-types", { method: "POST", key, json: LINT }), 201);
    expect(v1.version).toBe(1);
    const v5 = await ok<{ version: number }>(
      await api("/v1/job-types", { method: "POST", key, json: { ...LINT, version: 5 } }),
      201,
    );
    expect(v5.version).toBe(5);
    // A collision with an existing version, or an older one: versions are immutable and increase.
    for (const version of [5, 3])
      await problem(
        await api("/v1/job-types", { method: "POST", key, json: { ...LINT, version } }),
        409,
        "job_type.version_conflict",
      );
    const all = await ok<{ versions: { version: number }[] }>(await api("/v1/job-types/acme.lint", { key }), 200);
    expect(all.versions.map((v) => v.version)).toEqual([5, 1]);

    for (let i = 1; i < 100; i++)
      await ok(await api("/v1/job-types", { method: "POST", key, json: { ...LINT, name: `acme.t${i}` } }), 201);
    await problem(
      await api("/v1/job-types", { method: "POST", key, json: { ...LINT, name: "acme.one-too-many" } }),
      409,
      "job_type.limit",
    );
  });

  it("checks a step's input at creation, pins the version, and fails a bad output without retrying", async () => {
    const key = await tenantWith("acme");
    const token = await pool(key, "linters");
    await ok(await api("/v1/job-types", { method: "POST", key, json: LINT }), 201);

    const refused = await problem(
      await api("/v1/runs", {
        method: "POST",
        key,
        json: { project: "p", steps: [{ id: "a", type: "acme.lint", input: { strict: "yes" } }] },
      }),
      422,
      "step.invalid_input",
    );
    expect(refused.errors?.map((e) => e.path)).toEqual(
      expect.arrayContaining(["steps[0].input", "steps[0].input.strict"]),
    );

    const pinned = await createRun(
      { project: "p", steps: [{ id: "a", type: "acme.lint", input: { file: "x.ts" } }] },
      key,
    );
    // Version 2 wants another output: the run created under version 1 keeps version 1's schema.
    const v2 = { ...LINT, output: { type: "object", required: ["score"], properties: { score: { type: "number" } } } };
    await ok(await api("/v1/job-types", { method: "POST", key, json: v2 }), 201);
    const l1 = await take(token, "linters", { kinds: ["acme.lint"] });
    expect(l1).toMatchObject({ runId: pinned.id, type: "acme.lint", input: { file: "x.ts" } });
    await ok(await report(token, "linters", l1, { problems: 0 }), 200);
    expect((await waitForRun(pinned.id, { key })).status).toBe("succeeded");

    // A run created now pins version 2: version 1's output no longer fits, and it is not retried.
    const later = await createRun(
      { project: "p", steps: [{ id: "a", type: "acme.lint", input: { file: "y.ts" }, retry: { maxAttempts: 3 } }] },
      key,
    );
    const l2 = await take(token, "linters");
    const answer = await ok<{ invalidOutput?: unknown[] }>(await report(token, "linters", l2, { problems: 0 }), 200);
    expect(answer.invalidOutput?.length).toBeGreaterThan(0);
    const failed = await waitForRun(later.id, { key });
    expect(failed.status).toBe("failed");
    expect(failed.steps[0]).toMatchObject({ attempts: 1, error: { code: "step.invalid_output" } });
  });
});

describe("isolation between tenants", () => {
  it("B's token, key and names reach none of A's pools, job types, workers or steps", async () => {
    const a = await tenantWith("acme");
    const b = await tenantWith("bravo");
    const aToken = await pool(a, "linters");
    const bToken = await pool(b, "linters");
    await ok(await api("/v1/job-types", { method: "POST", key: a, json: LINT }), 201);
    const run = await createRun({ project: "p", steps: [{ id: "a", type: "acme.lint", input: { file: "x" } }] }, a);

    // B's token for its own pool of the same name finds nothing; a token forged to name A is refused.
    await ok(await lease(bToken, "linters", {}), 204);
    const forged = bToken.replace("fwt_bravo_", "fwt_acme_");
    await problem(await lease(forged, "linters", {}), 401, "auth.unauthenticated");
    await problem(await lease(aToken.replace("_linters_", "_other_"), "linters", {}), 401, "auth.unauthenticated");

    // B sees none of A's job types, pools or workers, and cannot run A's job type.
    await problem(await api("/v1/job-types/acme.lint", { key: b }), 404, "job_type.not_found");
    expect((await ok<{ items: unknown[] }>(await api("/v1/job-types", { key: b }), 200)).items).toEqual([]);
    await ok(await api("/v1/pools/linters/workers", { key: b }), 200);
    await problem(await api("/v1/pools/gpu/workers", { key: b }), 404, "pool.not_found");
    await problem(
      await api("/v1/runs", {
        method: "POST",
        key: b,
        json: { project: "p", steps: [{ id: "a", type: "acme.lint", input: { file: "x" } }] },
      }),
      422,
      "step.unknown_type",
    );

    // A's step is still there for A's worker.
    const l = await take(aToken, "linters", { workerId: "a-1" });
    expect(l.runId).toBe(run.id);
    await ok(await report(aToken, "linters", l, { problems: 1 }), 200);
    expect((await waitForRun(run.id, { key: a })).status).toBe("succeeded");
    const workers = await ok<{ items: { id: string; completed: number; live: boolean }[] }>(
      await api("/v1/pools/linters/workers", { key: a }),
      200,
    );
    expect(workers.items).toEqual([expect.objectContaining({ id: "a-1", completed: 1, live: true })]);
    const bWorkers = await ok<{ items: { id: string }[] }>(await api("/v1/pools/linters/workers", { key: b }), 200);
    expect(bWorkers.items.map((w) => w.id)).not.toContain("a-1");
  });
});

describe("capability routing", () => {
  it("gives a step only to a worker naming its kind and holding its required labels", async () => {
    const key = await tenantWith("acme");
    const token = await pool(key, "gpu");
    const train = { ...LINT, name: "acme.train", pool: "gpu", requires: { labels: { gpu: "a100" } } };
    await ok(await api("/v1/job-types", { method: "POST", key, json: train }), 201);
    await ok(await api("/v1/job-types", { method: "POST", key, json: { ...LINT, pool: "gpu" } }), 201);
    const run = await createRun({ project: "p", steps: [{ id: "t", type: "acme.train", input: { file: "m" } }] }, key);

    await ok(await lease(token, "gpu", { labels: { gpu: "t4" } }), 204);
    await ok(await lease(token, "gpu", {}), 204);
    await ok(await lease(token, "gpu", { kinds: ["acme.lint"], labels: { gpu: "a100" } }), 204);
    const got = await take(token, "gpu", { kinds: ["acme.train"], labels: { gpu: "a100", region: "eu" } });
    expect(got).toMatchObject({ runId: run.id, stepId: "t" });

    // Kinds: a lint step goes to a worker naming it, even when a train step waits before it.
    const t2 = await createRun({ project: "p", steps: [{ id: "t", type: "acme.train", input: { file: "m" } }] }, key);
    const l2 = await createRun({ project: "p", steps: [{ id: "l", type: "acme.lint", input: { file: "m" } }] }, key);
    const lint = await take(token, "gpu", { kinds: ["acme.lint"] });
    expect(lint.runId).toBe(l2.id);
    expect((await take(token, "gpu", { labels: { gpu: "a100" } })).runId).toBe(t2.id);
  });

  it("notes a step no live worker can take once, as an event and a webhook type, and keeps it waiting", async () => {
    const key = await tenantWith("acme", { unroutableAfterMs: 1_000 });
    const token = await pool(key, "gpu");
    const train = { ...LINT, name: "acme.train", pool: "gpu", requires: { labels: { gpu: "h100" } } };
    await ok(await api("/v1/job-types", { method: "POST", key, json: train }), 201);
    const run = await createRun({ project: "p", steps: [{ id: "t", type: "acme.train", input: { file: "m" } }] }, key);
    // A live worker that cannot take it (wrong labels).
    await ok(await lease(token, "gpu", { workerId: "small", labels: { gpu: "t4" } }), 204);

    const stub = env.POOL.getByName("acme:gpu");
    let noted: { type: string; data: Record<string, unknown> }[] = [];
    for (let i = 0; i < 400 && noted.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      await runDurableObjectAlarm(stub);
      noted = (await events(run.id, key)).filter((e) => e.type === "step.unroutable");
    }
    expect(noted).toHaveLength(1);
    expect(noted[0]!.data).toMatchObject({ pool: "gpu", kind: "acme.train", requires: { gpu: "h100" } });
    // Further checks do not note it again.
    for (let i = 0; i < 3; i++) await runDurableObjectAlarm(stub);
    expect((await events(run.id, key)).filter((e) => e.type === "step.unroutable")).toHaveLength(1);
    const webhookTypes = await import("../../schema/webhooks");
    expect(webhookTypes.WEBHOOK_EVENT_TYPES).toContain("step.unroutable");

    // It kept waiting: a worker with the label takes it.
    const l = await take(token, "gpu", { labels: { gpu: "h100" } });
    await ok(await report(token, "gpu", l, { problems: 0 }), 200);
    expect((await waitForRun(run.id, { key })).status).toBe("succeeded");
  });
});

describe("the operator's external pool", () => {
  it("keeps working with admin-issued tokens", async () => {
    const res = await api("/v1/admin/pools/external/tokens", { method: "POST", key: ADMIN_TOKEN });
    const { token } = await ok<{ token: string }>(res, 201);
    const run = await createRun({
      project: "ext",
      steps: [{ id: "x", type: "external.task", input: { kind: "noop" } }],
    });
    const l = await take(token, "external", { kinds: ["external.task"] });
    expect(l.runId).toBe(run.id);
    await ok(await report(token, "external", l, { any: true }), 200);
    expect((await waitForRun(run.id)).status).toBe("succeeded");
  });
});

describe("a step offered again", () => {
  it("keeps its place and its unroutable note; the stale attempt's row goes", async () => {
    const stub = env.POOL.getByName("acme:again");
    await stub.configure({ tenantId: "acme", pool: "again", unroutableAfterMs: 60_000 });
    const message = (attempt: number, stepId = "s") => ({
      v: 1 as const,
      runId: "run_00000000000000000000000000",
      tenantId: "acme",
      stepId,
      attempt,
      type: "acme.x",
      pool: "external" as const,
      traceId: "t",
    });
    const route = { kind: "acme.x", requires: {}, priority: 1 };
    await stub.offer([message(1)], [route]);
    await stub.offer([message(1, "later")], [route]);
    const first = await stub.backlog();
    await stub.offer([message(2)], [route]);
    const again = await stub.backlog();
    expect(again.waiting).toBe(2);
    expect(again.oldestAgeMs).toBeGreaterThanOrEqual(first.oldestAgeMs ?? 0);
    // First in line is still step "s", now at its new attempt.
    const taken = await stub.take("tok", 0, { kinds: null, labels: {}, workerId: "w" });
    expect(taken?.message).toMatchObject({ stepId: "s", attempt: 2 });
  });
});

describe("the audit trail", () => {
  it("records pools, tokens and job types made and removed", async () => {
    await ok(await api("/v1/pools", { method: "POST", json: { name: "audited" } }), 201);
    const { id } = await ok<{ id: string }>(await api("/v1/pools/audited/tokens", { method: "POST" }), 201);
    await ok(await api(`/v1/pools/audited/tokens/${id}`, { method: "DELETE" }), 204);
    await ok(await api("/v1/job-types", { method: "POST", json: { ...LINT, pool: "audited" } }), 201);
    const want = [
      { action: "pool.create", target: "pool:audited" },
      { action: "pool.token_create", target: "pool:audited" },
      { action: "pool.token_revoke", target: `pool:audited/token:${id}` },
      { action: "job_type.create", target: "job_type:acme.lint" },
    ];
    let items: { action: string; target: string }[] = [];
    for (let i = 0; i < 200 && items.length < want.length; i++) {
      items = ((await (await api("/v1/audit?limit=100")).json()) as { items: typeof items }).items.filter((e) =>
        want.some((w) => w.action === e.action),
      );
      if (items.length < want.length) await new Promise((r) => setTimeout(r, 50));
    }
    expect(items).toEqual(expect.arrayContaining(want.map((w) => expect.objectContaining(w))));
  });
});
