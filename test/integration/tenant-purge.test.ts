import { abortAllDurableObjects, reset, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { PurgeAudit, PurgeProgress } from "../../schema/tenants";
import { runStub } from "../../src/control/run/stub";
import { ADMIN_TOKEN, api, createRun, newTenantKey, waitForRun } from "../support/api";
import { recordCalls } from "../support/calls";
import { tablesIn } from "../support/storage";

afterEach(() => reset());

const T = "purged-co";
const admin = (path: string, init: { method?: string; json?: unknown } = {}) =>
  api(`/v1/admin${path}`, { ...init, key: ADMIN_TOKEN });
const purgeBody = { reason: "customer left (ticket 4711)", requestedBy: "ops@example.com" };

/** Tables in the tenant's object (SQLite's and the platform's own excepted). */
const tablesOf = (tenantId: string) =>
  runInDurableObject(env.TENANT.getByName(tenantId), (_i, state) =>
    state.storage.sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
      )
      .toArray()
      .map((r) => r.name),
  );

describe("purging a tenant", () => {
  it("suspends it at once, then deletes its runs, R2 keys, webhooks, keys and object in resumable passes, leaving an audit record", async () => {
    const key = await newTenantKey(T);
    const done = await createRun(
      { project: "p", blueprint: "microservice", input: { name: "gone-api", resources: ["things"] } },
      key,
    );
    expect((await waitForRun(done.id, { key })).status).toBe("succeeded");
    const active = await createRun(
      { project: "p", steps: [{ id: "a", type: "system.sleep", input: { ms: 20_000 } }] },
      key,
    );
    const hook = await api("/v1/webhooks", {
      method: "POST",
      key,
      json: { url: "https://hooks.example.com/x", eventTypes: ["run.*"] },
    });
    expect(hook.status).toBe(201);
    expect((await env.ARTIFACTS.list({ prefix: `tenants/${T}/` })).objects.length).toBeGreaterThan(0);
    // The key is checked, and its answer cached in this isolate.
    expect((await api("/v1/runs", { key })).status).toBe(200);

    // Who asked and why are required: the admin token names no one.
    expect((await admin(`/tenants/${T}`, { method: "DELETE" })).status).toBe(400);
    expect((await admin(`/tenants/${T}`, { method: "DELETE", json: { reason: "x" } })).status).toBe(400);
    const started = await admin(`/tenants/${T}`, { method: "DELETE", json: purgeBody });
    expect(started.status).toBe(202);
    expect(await started.json()).toMatchObject({ phase: "runs", ...purgeBody });

    // Suspended at once, in this isolate too (its cached key check was forgotten).
    const refused = await api("/v1/runs", { key });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: "tenant.suspended" });
    // Nothing brings it back while the purge is under way; the id cannot be taken again yet.
    const patch = await admin(`/tenants/${T}`, { method: "PATCH", json: { status: "active" } });
    expect(patch.status).toBe(409);
    expect(await patch.json()).toMatchObject({ code: "tenant.purging" });
    expect((await admin("/tenants", { method: "POST", json: { id: T, name: "again" } })).status).toBe(409);
    expect((await admin(`/tenants/${T}/keys`, { method: "POST", json: {} })).status).toBe(409);
    // The directory no longer lists it; its audit record is open.
    expect(((await (await admin("/tenants")).json()) as { items: string[] }).items).not.toContain(T);
    const open = (await (await admin(`/tenants/${T}/purges`)).json()) as { items: PurgeAudit[] };
    expect(open.items).toMatchObject([{ tenantId: T, ...purgeBody, finishedAt: null, counts: null }]);

    // One pass, then the object is killed: the next alarm resumes where the rows say.
    const stub = env.TENANT.getByName(T);
    await runDurableObjectAlarm(stub);
    await abortAllDurableObjects();
    let progress: PurgeProgress | null = null;
    for (let pass = 0; pass < 50; pass++) {
      const res = await admin(`/tenants/${T}`);
      if (res.status === 404) break;
      progress = ((await res.json()) as { purge: PurgeProgress }).purge;
      if (!(await runDurableObjectAlarm(env.TENANT.getByName(T)))) await new Promise((r) => setTimeout(r, 200));
    }
    expect(progress?.phase).toBeDefined();
    expect((await admin(`/tenants/${T}`)).status).toBe(404);

    // Nothing is left: no R2 key under its prefix, no table in its object, no run object.
    expect((await env.ARTIFACTS.list({ prefix: `tenants/${T}/` })).objects).toEqual([]);
    expect(await tablesOf(T)).toEqual([]);
    expect(await runStub(env, done.id).get(T)).toBeNull();
    expect(await runStub(env, active.id).get(T)).toBeNull();
    // Its old key → 401; the object answered without writing anything back.
    const gone = await api("/v1/runs", { key });
    expect(gone.status).toBe(401);
    expect(await tablesOf(T)).toEqual([]);

    const audit = (await (await admin(`/tenants/${T}/purges`)).json()) as { items: PurgeAudit[] };
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({ tenantId: T, ...purgeBody });
    expect(audit.items[0]?.finishedAt).not.toBeNull();
    expect(audit.items[0]?.counts).toMatchObject({ runs: 2, activeRunsCancelled: 1, keys: 1, webhooks: 1 });

    // The id is free again: a new tenant, empty, whose key cannot see the old runs.
    const again = await admin("/tenants", { method: "POST", json: { id: T, name: "again" } });
    expect(again.status).toBe(201);
    const newKey = await newTenantKey(T);
    expect((await api(`/v1/runs/${done.id}`, { key: newKey })).status).toBe(404);
    expect(((await (await api("/v1/runs", { key: newKey })).json()) as { items: unknown[] }).items).toEqual([]);
  }, 60_000);

  it("answers 404 for a tenant that does not exist, and refuses the development tenant", async () => {
    expect((await admin("/tenants/nobody-here", { method: "DELETE", json: purgeBody })).status).toBe(404);
    const dev = await admin("/tenants/dev", { method: "DELETE", json: purgeBody });
    expect(dev.status).toBe(409);
    expect(await dev.json()).toMatchObject({ code: "tenant.reserved" });
  });
});

describe("a key naming no tenant", () => {
  it("is refused and leaves no storage in the object it reached; the id can still be created", async () => {
    // A real key's shape, with a tenant id nobody created: any caller can invent these.
    const real = await newTenantKey("somebody");
    // A key of today's format carries a MAC over its tenant: the forgery is refused before any
    // object is called (test/integration/key-mac.test.ts). The same key without its MAC has the
    // format of a key made before KEY_MAC_KEY, which still reaches its tenant's object.
    const macForged = real.replace("frk_somebody_", "frk_ghost_");
    const calls = await recordCalls({ TENANT: env.TENANT }, async () => {
      expect((await api("/v1/runs", { key: macForged })).status).toBe(401);
    });
    expect(calls).toEqual([]);
    const forged = macForged.split("_").slice(0, 4).join("_");
    expect(forged).not.toBe(real);
    for (const path of ["/v1/runs", "/v1/usage"]) expect((await api(path, { key: forged })).status).toBe(401);
    const created = await api("/v1/runs", {
      method: "POST",
      key: forged,
      json: { project: "p", steps: [{ id: "a", type: "system.echo", input: {} }] },
    });
    expect(created.status).toBe(401);
    expect(await tablesIn(env.TENANT.getByName("ghost"))).toEqual([]);
    // The operator can still create the tenant (the instance that wiped itself resets first).
    expect((await newTenantKey("ghost")).startsWith("frk_ghost_")).toBe(true);
    expect(await tablesIn(env.TENANT.getByName("ghost"))).not.toEqual([]);
  });
});
