/**
 * Forged tenant ids are refused without touching any Durable Object (issue 33, finding 9): a key
 * carries a MAC over its tenant and key id (KEY_MAC_KEY), checked by the Worker before it calls
 * the tenant's object. Keys made before the MAC (none in their format) still work until rotated.
 */
import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { parseApiKey, formatApiKey } from "../../src/lib/keys";
import { recordCalls } from "../support/calls";
import { ADMIN_TOKEN, api, newTenantKey } from "../support/api";

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
