import { reset } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, api, createRun, newTenantKey } from "../support/api";

afterEach(() => reset());

interface Fixture {
  owner: string;
  runId: string;
  webhookId: string;
  keys: Record<string, string | null>;
}

const admin = (path: string, init: RequestInit & { json?: unknown } = {}) =>
  api(`/v1/admin${path}`, { ...init, key: ADMIN_TOKEN });

async function fixture(): Promise<Fixture> {
  const owner = await newTenantKey("acme");
  const run = await createRun(
    { project: "p", steps: [{ id: "a", type: "system.sleep", input: { ms: 20_000 } }] },
    owner,
  );
  const webhook = (await (
    await api("/v1/webhooks", {
      method: "POST",
      key: owner,
      json: { url: "https://hooks.example.com/x", eventTypes: ["run.*"] },
    })
  ).json()) as { id: string };

  const revoked = await newTenantKey("acme");
  await admin(`/tenants/acme/keys/${revoked.split("_")[2]}`, { method: "DELETE" });
  // A key cannot be born expired (400): this one expires a moment after it is made.
  const expired = await newTenantKey("acme", { expiresAt: new Date(Date.now() + 300).toISOString() });
  await new Promise((r) => setTimeout(r, 400));
  const readOnly = await newTenantKey("acme", { scopes: ["runs:read"] });
  const other = await newTenantKey("globex");
  const suspended = await newTenantKey("initech");
  await admin("/tenants/initech", { method: "PATCH", json: { status: "suspended" } });
  return {
    owner,
    runId: run.id,
    webhookId: webhook.id,
    keys: { none: null, malformed: "Bearer-less-garbage", revoked, expired, readOnly, other, suspended },
  };
}

type Route = {
  method: string;
  path: (f: Fixture) => string;
  body?: unknown;
  scope: "runs:read" | "runs:write" | "webhooks:manage";
  owned: boolean;
};

const ROUTES: Route[] = [
  { method: "GET", path: () => "/v1/runs", scope: "runs:read", owned: false },
  {
    method: "POST",
    path: () => "/v1/runs",
    body: { project: "p", steps: [{ id: "a", type: "system.echo", input: {} }] },
    scope: "runs:write",
    owned: false,
  },
  { method: "GET", path: (f) => `/v1/runs/${f.runId}`, scope: "runs:read", owned: true },
  { method: "GET", path: (f) => `/v1/runs/${f.runId}/events`, scope: "runs:read", owned: true },
  { method: "GET", path: (f) => `/v1/runs/${f.runId}/artifacts`, scope: "runs:read", owned: true },
  { method: "GET", path: (f) => `/v1/runs/${f.runId}/artifacts/x.zip`, scope: "runs:read", owned: true },
  { method: "POST", path: (f) => `/v1/runs/${f.runId}/cancel`, scope: "runs:write", owned: true },
  { method: "POST", path: (f) => `/v1/runs/${f.runId}/pause`, scope: "runs:write", owned: true },
  { method: "POST", path: (f) => `/v1/runs/${f.runId}/resume`, scope: "runs:write", owned: true },
  { method: "POST", path: (f) => `/v1/runs/${f.runId}/retry`, scope: "runs:write", owned: true },
  { method: "GET", path: () => "/v1/blueprints", scope: "runs:read", owned: false },
  { method: "GET", path: () => "/v1/webhooks", scope: "webhooks:manage", owned: false },
  {
    method: "POST",
    path: () => "/v1/webhooks",
    body: { url: "https://evil.example.com/", eventTypes: ["*"] },
    scope: "webhooks:manage",
    owned: false,
  },
  { method: "GET", path: (f) => `/v1/webhooks/${f.webhookId}`, scope: "webhooks:manage", owned: true },
  {
    method: "PATCH",
    path: (f) => `/v1/webhooks/${f.webhookId}`,
    body: { url: "https://evil.example.com/" },
    scope: "webhooks:manage",
    owned: true,
  },
  { method: "DELETE", path: (f) => `/v1/webhooks/${f.webhookId}`, scope: "webhooks:manage", owned: true },
  { method: "GET", path: (f) => `/v1/webhooks/${f.webhookId}/deliveries`, scope: "webhooks:manage", owned: true },
  {
    method: "POST",
    path: (f) => `/v1/webhooks/${f.webhookId}/rotate-secret`,
    body: {},
    scope: "webhooks:manage",
    owned: true,
  },
  {
    method: "POST",
    path: (f) => `/v1/webhooks/${f.webhookId}/replay`,
    body: { since: new Date(0).toISOString() },
    scope: "webhooks:manage",
    owned: true,
  },
];

/** What each kind of caller must get from each route. */
function expected(who: string, route: Route): number | "ok" {
  if (["none", "malformed", "revoked", "expired"].includes(who)) return 401;
  if (who === "suspended") return 403;
  if (who === "readOnly") return route.scope === "runs:read" ? "ok" : 403;
  if (who === "other") return route.owned ? 404 : "ok";
  throw new Error(who);
}

describe("every endpoint against every kind of wrong caller", () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await fixture();
  });

  it("answers 401/403/404 as it must, as problem+json, and changes nothing of the owner's", async () => {
    const before = {
      run: await (await api(`/v1/runs/${f.runId}`, { key: f.owner })).json(),
      webhook: await (await api(`/v1/webhooks/${f.webhookId}`, { key: f.owner })).json(),
      runs: ((await (await api("/v1/runs", { key: f.owner })).json()) as { items: unknown[] }).items.length,
      webhooks: ((await (await api("/v1/webhooks", { key: f.owner })).json()) as { items: unknown[] }).items.length,
    };
    let checked = 0;
    for (const [who, key] of Object.entries(f.keys)) {
      for (const route of ROUTES) {
        const res = await api(route.path(f), {
          method: route.method,
          key: who === "malformed" ? null : key,
          headers: who === "malformed" ? { authorization: key! } : {},
          ...(route.body !== undefined ? { json: route.body } : {}),
        });
        const want = expected(who, route);
        const label = `${who} ${route.method} ${route.path(f)}`;
        if (want === "ok" && route.method === "GET" && who === "readOnly") {
          // A read-only key reads exactly what the owner reads (a missing artifact is 404 for both).
          const owner = await api(route.path(f), { key: f.owner });
          expect(res.status, label).toBe(owner.status);
          await owner.body?.cancel();
        } else if (want === "ok") {
          expect(res.status, label).toBeLessThan(400);
        } else {
          expect(res.status, label).toBe(want);
          expect(res.headers.get("content-type"), label).toContain("application/problem+json");
        }
        await res.body?.cancel();
        checked++;
      }
    }
    expect(checked).toBe(7 * ROUTES.length);
    const run = (await (await api(`/v1/runs/${f.runId}`, { key: f.owner })).json()) as {
      status: string;
      steps: { status: string }[];
    };
    expect(run).toEqual(before.run);
    expect(await (await api(`/v1/webhooks/${f.webhookId}`, { key: f.owner })).json()).toEqual(before.webhook);
    expect(((await (await api("/v1/runs", { key: f.owner })).json()) as { items: unknown[] }).items).toHaveLength(
      before.runs,
    );
    expect(((await (await api("/v1/webhooks", { key: f.owner })).json()) as { items: unknown[] }).items).toHaveLength(
      before.webhooks,
    );
    await api(`/v1/runs/${f.runId}/cancel`, { method: "POST", key: f.owner });
  });
});
