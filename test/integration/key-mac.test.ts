/**
 * Forged tenant ids are refused without touching any Durable Object (issue 33, finding 9): a key
 * carries a MAC over its tenant and key id (KEY_MAC_KEY), checked by the Worker before it calls
 * the tenant's object. Keys made before the MAC (none in their format) still work until rotated.
 */
import { createExecutionContext, reset, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { parseApiKey, formatApiKey } from "../../src/lib/keys";
import { recordCalls } from "../support/calls";
import { ADMIN_TOKEN, api, newTenantKey } from "../support/api";
import worker from "../../src/index";

afterEach(() => reset());

const objects = { TENANT: env.TENANT, RUN: env.RUN, BREAKER: env.BREAKER };

async function problemWithoutCalls(key: string) {
  let status = 0;
  let code = "";
  const calls = await recordCalls(objects, async () => {
    const res = await api("/v1/runs", { key });
    status = res.status;
    code = ((await res.json()) as { code: string }).code;
  });
  expect({ status, code }).toEqual({ status: 401, code: "auth.unauthenticated" });
  expect(calls).toEqual([]);
}

describe("API keys carry a MAC over their tenant and id", () => {
  it("a new key has one and works; a forged tenant, key id or MAC is 401 before any object call", async () => {
    const key = await newTenantKey("acme");
    const parts = parseApiKey(key)!;
    expect(parts.mac).toMatch(/^[0-9a-f]{20}$/);
    expect((await api("/v1/runs", { key })).status).toBe(200);

    await problemWithoutCalls(formatApiKey({ ...parts, tenantId: "victim" }));
    await problemWithoutCalls(formatApiKey({ ...parts, tenantId: "invented-tenant-9" }));
    await problemWithoutCalls(formatApiKey({ ...parts, keyId: "aaaaaaaaaaaa" }));
    const flipped = `${parts.mac!.slice(0, -1)}${parts.mac!.endsWith("0") ? "1" : "0"}`;
    await problemWithoutCalls(formatApiKey({ ...parts, mac: flipped }));
  });

  it("a key made before the MAC (none in it) is still accepted, until rotated; its rotation has one", async () => {
    const key = await newTenantKey("acme");
    const { mac: _, ...old } = parseApiKey(key)!;
    const legacy = formatApiKey(old);
    expect((await api("/v1/runs", { key: legacy })).status).toBe(200);
    const rotated = await api(`/v1/admin/tenants/acme/keys/${old.keyId}/rotate`, {
      method: "POST",
      key: ADMIN_TOKEN,
      json: { overlapMs: 0 },
    });
    expect(rotated.status).toBe(201);
    const fresh = ((await rotated.json()) as { key: string }).key;
    expect(parseApiKey(fresh)!.mac).toMatch(/^[0-9a-f]{20}$/);
    expect((await api("/v1/runs", { key: fresh })).status).toBe(200);
    expect((await api("/v1/runs", { key: legacy })).status).toBe(401);
  });
});

/**
 * The Worker as deployed once every key has been rotated: the same entry point and bindings, with
 * KEY_MAC_REQUIRED=true (the suite's bindings leave it unset, so that legacy keys keep working).
 */
async function withMacRequired(path: string, key: string): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`http://runtime.test${path}`, { headers: { authorization: `Bearer ${key}` } }),
    { ...env, KEY_MAC_REQUIRED: "true" },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

describe("with KEY_MAC_REQUIRED=true", () => {
  it("a key made before the MAC is refused before any object call; a key with its MAC works", async () => {
    const key = await newTenantKey("acme");
    const { mac: _, ...old } = parseApiKey(key)!;
    const legacy = formatApiKey(old);
    // The same legacy key is accepted while the MAC is not required (its tenant's object checks it) …
    expect((await api("/v1/runs", { key: legacy })).status).toBe(200);
    // … and refused by the Worker itself once it is, without calling any object.
    let refused: Response | null = null;
    const calls = await recordCalls(objects, async () => {
      refused = await withMacRequired("/v1/runs", legacy);
    });
    expect(refused!.status).toBe(401);
    expect(((await refused!.json()) as { code: string }).code).toBe("auth.unauthenticated");
    expect(calls).toEqual([]);
    // A key with its MAC: accepted under the same bindings.
    const ok = await withMacRequired("/v1/runs", key);
    expect(ok.status).toBe(200);
    // A forged MAC is still refused.
    const flipped = `${parseApiKey(key)!.mac!.slice(0, -1)}${key.endsWith("0") ? "1" : "0"}`;
    expect((await withMacRequired("/v1/runs", formatApiKey({ ...parseApiKey(key)!, mac: flipped }))).status).toBe(401);
  });
});
