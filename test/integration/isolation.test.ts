import { reset, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, api, createRun, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

describe("tenants never see each other's runs", () => {
  it("another tenant's run, events, artifacts and cancel answer exactly like a missing run", async () => {
    const acme = await newTenantKey("acme");
    const globex = await newTenantKey("globex");
    const run = await createRun(
      { project: "secret", steps: [{ id: "a", type: "system.echo", input: { token: "acme-only" } }] },
      acme,
    );
    await waitForRun(run.id, { key: acme });

    const missing = "run_0000000000aaaaaaaaaaaaaaaa";
    for (const suffix of ["", "/events", "/artifacts", "/artifacts/x.zip"]) {
      const theirs = await api(`/v1/runs/${run.id}${suffix}`, { key: globex });
      const none = await api(`/v1/runs/${missing}${suffix}`, { key: globex });
      expect(theirs.status, suffix).toBe(404);
      expect(await theirs.json()).toEqual(await none.json());
    }
    const cancel = await api(`/v1/runs/${run.id}/cancel`, { method: "POST", key: globex });
    expect(cancel.status).toBe(404);
    const list = (await (await api("/v1/runs", { key: globex })).json()) as { items: unknown[] };
    expect(list.items).toEqual([]);

    // The owner still sees it, and the dev tenant does not.
    expect((await api(`/v1/runs/${run.id}`, { key: acme })).status).toBe(200);
    expect((await api(`/v1/runs/${run.id}`)).status).toBe(404);
  });

  it("an Idempotency-Key is scoped to its tenant", async () => {
    const acme = await newTenantKey("acme");
    const globex = await newTenantKey("globex");
    const body = { project: "p", steps: [{ id: "a", type: "system.echo", input: {} }] };
    const a = await api("/v1/runs", { method: "POST", key: acme, json: body, headers: { "idempotency-key": "same" } });
    const b = await api("/v1/runs", {
      method: "POST",
      key: globex,
      json: body,
      headers: { "idempotency-key": "same" },
    });
    expect(((await a.json()) as { id: string }).id).not.toBe(((await b.json()) as { id: string }).id);
  });

  it("a created key works once issued and its plaintext is never stored", async () => {
    await api("/v1/admin/tenants", { method: "POST", key: ADMIN_TOKEN, json: { id: "initech", name: "Initech" } });
    const res = await api("/v1/admin/tenants/initech/keys", { method: "POST", key: ADMIN_TOKEN, json: { name: "ci" } });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string; key: string; tenantId: string };
    expect(created.key).toMatch(/^frk_initech_[0-9a-z]{12}_[0-9a-z]{40}_[0-9a-f]{20}$/);
    expect((await api("/v1/runs", { key: created.key })).status).toBe(200);
    const stored = await runInDurableObject(env.TENANT.getByName("initech"), (_o, state) =>
      state.storage.sql.exec<{ hash: string }>("SELECT hash FROM api_key").toArray(),
    );
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(created.key.split("_").pop()!);
  });
});
