import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, expect, it } from "vitest";
import { ADMIN_TOKEN, api, newTenantKey } from "../support/api";
import { recordCalls } from "../support/calls";

afterEach(() => reset());

const keyId = (key: string) => key.split("_")[2] ?? "";

it("a key revoked behind this isolate's back is refused within 5 s (KEY_CACHE_MS)", async () => {
  const key = await newTenantKey("acme");
  // A busy key: its isolate holds a lease of rate tokens, enough to outlast the cache's 5 s here.
  for (let i = 0; i < 40; i++) expect((await api("/v1/runs", { key })).status).toBe(200);
  // Revoked on the tenant's object directly, as another isolate's admin call would: this
  // isolate's cache does not hear of it and may answer from what it holds, for 5 s at most.
  expect(await env.TENANT.getByName("acme").revokeKey(keyId(key))).toBe(true);
  const revokedAt = Date.now();
  let status = 200;
  let servedAfter = -1;
  while (status === 200 && Date.now() - revokedAt < 10_000) {
    status = (await api("/v1/runs", { key })).status;
    servedAfter++;
    if (status === 200) await new Promise((r) => setTimeout(r, 250));
  }
  expect(status).toBe(401);
  expect(Date.now() - revokedAt).toBeLessThanOrEqual(5_500);
  expect(servedAfter, "the cache answered for a while: this test measures its bound").toBeGreaterThan(0);
}, 20_000);

it("through the admin API, revocation and suspension take effect at once in the isolate that made them", async () => {
  const key = await newTenantKey("acme");
  expect((await api("/v1/runs", { key })).status).toBe(200);
  await api(`/v1/admin/tenants/acme/keys/${keyId(key)}`, { method: "DELETE", key: ADMIN_TOKEN });
  expect((await api("/v1/runs", { key })).status).toBe(401);

  const other = await newTenantKey("globex");
  expect((await api("/v1/runs", { key: other })).status).toBe(200);
  await api("/v1/admin/tenants/globex", { method: "PATCH", key: ADMIN_TOKEN, json: { status: "suspended" } });
  expect((await api("/v1/runs", { key: other })).status).toBe(403);
});

it("a busy key asks its tenant's object a few times, not once a request, and the rate limit still holds", async () => {
  const key = await newTenantKey("acme");
  const calls = await recordCalls({ tenant: env.TENANT }, async () => {
    for (let i = 0; i < 50; i++) expect((await api("/v1/runs", { key })).status).toBe(200);
  });
  // Leases of 1, 2, 4, 8, 16, 32 tokens: six calls cover 63 requests.
  expect(calls.filter((c) => c === "tenant.authenticate").length).toBeLessThanOrEqual(6);

  const limited = await newTenantKey("globex");
  await api("/v1/admin/tenants/globex", {
    method: "PATCH",
    key: ADMIN_TOKEN,
    json: { limits: { requestsPerMinute: 5 } },
  });
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push((await api("/v1/runs", { key: limited })).status);
  expect(statuses.filter((s) => s === 200)).toHaveLength(5);
  expect(statuses.slice(5)).toEqual([429, 429, 429]);
});
