/**
 * A tenant's own OTLP collector (`/v1/telemetry`, docs/telemetry.md): set, shown as references,
 * removed; its endpoint SSRF-checked; a run created while it is set carries it to its end (one
 * outbox row for the tenant's collector), a run of a tenant without one writes none. The
 * delivery itself is the e2e test's (test/e2e/telemetry.test.ts: a real loopback receiver).
 */
import { env } from "cloudflare:workers";
import { reset, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { api, createRun, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

const HONEYCOMB = "hc-planted-0d9c8b7a6f5e4d3c";
const putSecret = (name: string, value: string, key?: string) =>
  api(`/v1/secrets/${name}`, { method: "PUT", json: { value }, ...(key ? { key } : {}) });
const putCollector = (json: unknown, key?: string) =>
  api("/v1/telemetry", { method: "PUT", json, ...(key ? { key } : {}) });
const codeOf = async (res: Response) => ((await res.json()) as { code: string }).code;

/** The run's outbox rows for telemetry, read from its object (the export itself is the e2e test's). */
const telemetryRows = (runId: string) =>
  runInDurableObject(env.RUN.getByName(runId), (_o, state) =>
    state.storage.sql
      .exec<{ body: string }>("SELECT body FROM outbox WHERE kind = 'telemetry'")
      .toArray()
      .map((r) => JSON.parse(r.body) as { at: number; to?: string }),
  );

describe("the tenant's collector", () => {
  it("is set with secret references, shown without values, and removed", async () => {
    expect(await codeOf(await api("/v1/telemetry"))).toBe("telemetry.not_configured");
    expect((await putSecret("honeycomb", HONEYCOMB)).status).toBe(201);
    const put = await putCollector({
      endpoint: "http://127.0.0.1:4318",
      headers: { "X-Honeycomb-Team": { $secret: "honeycomb" } },
    });
    expect(put.status).toBe(200);
    const got = await api("/v1/telemetry");
    const text = await got.text();
    expect(text).not.toContain(HONEYCOMB);
    expect(JSON.parse(text)).toMatchObject({
      endpoint: "http://127.0.0.1:4318/",
      headers: { "x-honeycomb-team": { $secret: "honeycomb" } },
    });
    // Audited like every change of configuration.
    const audit = (await (await api("/v1/audit?action=telemetry.configure")).json()) as { items: unknown[] };
    expect(audit.items).toHaveLength(1);
    expect((await api("/v1/telemetry", { method: "DELETE" })).status).toBe(204);
    expect(await codeOf(await api("/v1/telemetry", { method: "DELETE" }))).toBe("telemetry.not_configured");
  });

  it("refuses an internal endpoint with a stable code, and plain http to loopback in production", async () => {
    for (const endpoint of ["https://10.1.2.3", "http://169.254.169.254/", "https://collector.internal"]) {
      const res = await putCollector({ endpoint });
      expect(res.status, endpoint).toBe(400);
      expect(await codeOf(res), endpoint).toBe("telemetry.endpoint_forbidden");
    }
    // Production has no dev key: a real tenant's key.
    const key = await newTenantKey("acme", { scopes: ["webhooks:manage"] });
    const vars = env as unknown as { ENVIRONMENT: string };
    const was = vars.ENVIRONMENT;
    vars.ENVIRONMENT = "production";
    try {
      const res = await putCollector({ endpoint: "http://127.0.0.1:4318" }, key);
      expect(res.status).toBe(400);
      expect(await codeOf(res)).toBe("telemetry.endpoint_forbidden");
    } finally {
      vars.ENVIRONMENT = was;
    }
  });

  it("refuses a header naming a secret the tenant does not hold, and a header value that is not a reference", async () => {
    const missing = await putCollector({
      endpoint: "http://127.0.0.1:4318",
      headers: { "x-key": { $secret: "nope" } },
    });
    expect(missing.status).toBe(400);
    expect(await codeOf(missing)).toBe("secret.not_found");
    const plain = await putCollector({ endpoint: "http://127.0.0.1:4318", headers: { "x-key": HONEYCOMB } });
    expect(plain.status).toBe(400);
    expect(await codeOf(plain)).toBe("request.invalid");
  });

  it("needs webhooks:manage; another tenant sees none of it", async () => {
    const reader = await newTenantKey("acme", { scopes: ["runs:read"] });
    expect(await codeOf(await putCollector({ endpoint: "http://127.0.0.1:4318" }, reader))).toBe(
      "auth.insufficient_scope",
    );
    expect((await putCollector({ endpoint: "http://127.0.0.1:4318" })).status).toBe(200);
    const other = await newTenantKey("other", { scopes: ["webhooks:manage"] });
    expect(await codeOf(await api("/v1/telemetry", { key: other }))).toBe("telemetry.not_configured");
  });

  it("a run created while it is set ends with a row for it; a tenant without one writes none", async () => {
    const one = { project: "p", steps: [{ id: "a", type: "system.echo", input: {} }] };
    const before = await createRun(one);
    expect((await waitForRun(before.id)).status).toBe("succeeded");
    expect(await telemetryRows(before.id)).toEqual([]);

    // Nothing listens on the port: the export fails and its row stays, to be retried.
    expect((await putCollector({ endpoint: "http://127.0.0.1:9" })).status).toBe(200);
    const after = await createRun(one);
    expect((await waitForRun(after.id)).status).toBe("succeeded");
    for (let i = 0; i < 400 && (await telemetryRows(after.id)).length === 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(await telemetryRows(after.id)).toEqual([expect.objectContaining({ to: "tenant" })]);
  });
});
