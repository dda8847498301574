/**
 * The audit trail (issue 26, docs/audit.md): every control and configuration change is recorded
 * once, with the actor that made it (an API key and its name, the admin token, a decision link,
 * a schedule, a trigger), its target, the request's address, user agent and trace id. Run
 * creations come from the run index; everything else from the tenant's audit object.
 */
import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { AuditEntry, AuditPage } from "../../schema/audit";
import type { RunView } from "../../schema/api";
import { ADMIN_TOKEN, api, createRun, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

const TENANT = "audited";
const ALL_SCOPES = ["runs:read", "runs:write", "webhooks:manage", "approvals:grant", "secrets:manage", "events:write"];
const keyIdOf = (key: string) => key.split("_")[2]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TRACE = "0af7651916cd43dd8448eb211c80319c";

async function until<T>(get: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(25)) {
    const value = await get();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
  }
}

async function ok(res: Response | Promise<Response>, status = 200): Promise<Response> {
  const r = await res;
  if (r.status !== status) throw new Error(`${r.status} ${await r.text()}`);
  return r;
}

const runOf = async (id: string, key: string) => (await (await api(`/v1/runs/${id}`, { key })).json()) as RunView;
const gated = (key: string) =>
  createRun(
    {
      project: "p",
      steps: [{ id: "gate", type: "approval", input: { title: "Ship?", approvers: { allowRequester: true } } }],
    },
    key,
  );

/** Every entry of the tenant's trail, all pages, through the tenant API. */
async function trail(key: string, query = ""): Promise<AuditEntry[]> {
  const items: AuditEntry[] = [];
  let cursor: string | null = null;
  do {
    const sep = query ? "&" : "";
    const res = await ok(api(`/v1/audit?limit=5${sep}${query}${cursor ? `&cursor=${cursor}` : ""}`, { key }));
    const page = (await res.json()) as AuditPage;
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

/** Controls made with `key`: run controls, a decision link, configuration; returns what was made. */
async function controls(key: string) {
  const headers = {
    "user-agent": "audit-test/1",
    "cf-connecting-ip": "203.0.113.7",
    traceparent: `00-${TRACE}-b7ad6b7169203331-01`,
  };
  const gate = await gated(key);
  await until(async () => (await runOf(gate.id, key)).steps[0]!.status === "waiting");
  await ok(api(`/v1/runs/${gate.id}/pause`, { method: "POST", key, headers }));
  await ok(api(`/v1/runs/${gate.id}/resume`, { method: "POST", key }));
  const pair = (await (await ok(api(`/v1/runs/${gate.id}/steps/gate/links`, { key }))).json()) as {
    approveUrl: string;
  };
  await ok(api(pair.approveUrl, { method: "POST", key: null }));
  await waitForRun(gate.id, { key });

  const doomed = await gated(key);
  await ok(api(`/v1/runs/${doomed.id}/cancel`, { method: "POST", key }));
  const retry = (await (await ok(api(`/v1/runs/${doomed.id}/retry`, { method: "POST", key }), 202)).json()) as {
    id: string;
  };
  // A finished run is deleted once its events reached its tenant: 409 run.active until then.
  await until(async () => (await api(`/v1/runs/${doomed.id}`, { method: "DELETE", key })).status === 204);

  const hook = (await (
    await ok(
      api("/v1/webhooks", { method: "POST", key, json: { url: "https://hooks.example.com/a", eventTypes: ["run.*"] } }),
      201,
    )
  ).json()) as { id: string };
  await ok(api(`/v1/webhooks/${hook.id}`, { method: "PATCH", key, json: { description: "changed" } }));
  await ok(api(`/v1/webhooks/${hook.id}`, { method: "DELETE", key }), 204);
  await ok(api("/v1/secrets/pat", { method: "PUT", key, json: { value: "s3cret-value" } }), 201);
  await ok(api("/v1/secrets/pat", { method: "DELETE", key }), 204);
  return { gate, doomed, hook, retry };
}

async function automation(key: string) {
  const echo = { project: "p", steps: [{ id: "a", type: "system.echo", input: {} }] };
  const schedule = (await (
    await ok(api("/v1/schedules", { method: "POST", key, json: { ...echo, spec: { every: "PT1H" } } }), 201)
  ).json()) as { id: string };
  const fired = (await (
    await ok(api(`/v1/schedules/${schedule.id}/trigger`, { method: "POST", key }), 202)
  ).json()) as {
    runId: string;
  };
  await ok(api(`/v1/schedules/${schedule.id}`, { method: "DELETE", key }), 204);
  const trigger = (await (
    await ok(api("/v1/triggers", { method: "POST", key, json: { ...echo, eventType: "build.done" } }), 201)
  ).json()) as { id: string };
  const sent = (await (
    await ok(api("/v1/events", { method: "POST", key, json: { id: "e1", type: "build.done", data: {} } }), 202)
  ).json()) as { runs: { runId: string }[] };
  await ok(api(`/v1/triggers/${trigger.id}`, { method: "DELETE", key }), 204);
  return { schedule, trigger, scheduledRun: fired.runId, triggeredRun: sent.runs[0]!.runId };
}

describe("the audit trail", () => {
  it("records each control and configuration change once, with its actor, target, address and trace id", async () => {
    const key = await newTenantKey(TENANT, { name: "deployer", scopes: ALL_SCOPES });
    const reader = await newTenantKey(TENANT, { name: "auditor", scopes: ["audit:read"] });
    const kid = keyIdOf(key);
    const { gate, doomed, hook, retry } = await controls(key);
    const { schedule, trigger, scheduledRun, triggeredRun } = await automation(key);
    await ok(api(`/v1/admin/tenants/${TENANT}/retention`, { method: "PUT", key: ADMIN_TOKEN, json: {} }));

    const all = await trail(reader);
    const byKey = { kind: "key", id: kid, name: "deployer" };
    const expected: [string, string, object][] = [
      ["tenant.create", `tenant:${TENANT}`, { kind: "admin" }],
      ["key.create", `key:${kid}`, { kind: "admin" }],
      ["run.create", `run:${gate.id}`, byKey],
      ["run.pause", `run:${gate.id}`, byKey],
      ["run.resume", `run:${gate.id}`, byKey],
      ["gate.approve", `run:${gate.id}/gate`, { kind: "link", name: null }],
      ["run.create", `run:${doomed.id}`, byKey],
      ["run.cancel", `run:${doomed.id}`, byKey],
      ["run.retry", `run:${doomed.id}`, byKey],
      // The retry's new run is indexed with who asked for it (issue 28's search), so it is a creation too.
      ["run.create", `run:${retry.id}`, byKey],
      ["run.delete", `run:${doomed.id}`, byKey],
      ["webhook.create", `webhook:${hook.id}`, byKey],
      ["webhook.update", `webhook:${hook.id}`, byKey],
      ["webhook.delete", `webhook:${hook.id}`, byKey],
      ["secret.put", "secret:pat", byKey],
      ["secret.delete", "secret:pat", byKey],
      ["schedule.create", `schedule:${schedule.id}`, byKey],
      ["schedule.fire", `schedule:${schedule.id}`, byKey],
      ["run.create", `run:${scheduledRun}`, { kind: "schedule", id: schedule.id }],
      ["schedule.delete", `schedule:${schedule.id}`, byKey],
      ["trigger.create", `trigger:${trigger.id}`, byKey],
      ["run.create", `run:${triggeredRun}`, { kind: "trigger", id: trigger.id }],
      ["trigger.delete", `trigger:${trigger.id}`, byKey],
      ["retention.set", `tenant:${TENANT}`, { kind: "admin" }],
    ];
    for (const [action, target, actor] of expected) {
      const found = all.filter((e) => e.action === action && e.target === target);
      expect(found, `${action} ${target}`).toHaveLength(1);
      expect(found[0]!.actor, `${action} ${target}`).toMatchObject(actor);
    }
    // Newest first across both sources, and nothing but what was done (the reader's own key too).
    const times = all.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(all.length).toBe(expected.length + 1);
    const paused = all.find((e) => e.action === "run.pause")!;
    expect(paused).toMatchObject({ ip: "203.0.113.7", userAgent: "audit-test/1", traceId: TRACE });
    // The run's own events name who controlled it.
    const log = (await (await api(`/v1/runs/${gate.id}/events?limit=1000`, { key })).json()) as {
      items: { type: string; data: { by?: unknown } }[];
    };
    expect(log.items.find((e) => e.type === "run.paused")!.data.by).toBe(`key:${kid}`);
  });

  it("filters by actor, action, target and time; the admin reads any tenant's; bad queries are 400", async () => {
    const key = await newTenantKey(TENANT, { name: "deployer", scopes: ALL_SCOPES });
    const reader = await newTenantKey(TENANT, { name: "auditor", scopes: ["audit:read"] });
    const other = await newTenantKey("someone-else", { scopes: [...ALL_SCOPES, "audit:read"] });
    const run = await createRun({ project: "p", steps: [{ id: "a", type: "system.echo", input: {} }] }, key);
    await waitForRun(run.id, { key });
    await ok(api("/v1/secrets/pat", { method: "PUT", key, json: { value: "v" } }), 201);

    const kid = keyIdOf(key);
    expect((await trail(reader, `actor=key:${kid}`)).map((e) => e.action).sort()).toEqual(["run.create", "secret.put"]);
    expect((await trail(reader, "actor=admin")).map((e) => e.action).sort()).toEqual([
      "key.create",
      "key.create",
      "tenant.create",
    ]);
    expect((await trail(reader, "action=run.create")).map((e) => e.target)).toEqual([`run:${run.id}`]);
    expect(await trail(reader, `target=run:${run.id}`)).toHaveLength(1);
    expect(await trail(reader, `since=${new Date(Date.now() + 60_000).toISOString()}`)).toEqual([]);
    // Another tenant's key sees nothing of this tenant's targets.
    expect(await trail(other, `target=run:${run.id}`)).toEqual([]);

    const admin = await ok(api(`/v1/admin/tenants/${TENANT}/audit?action=secret.put`, { key: ADMIN_TOKEN }));
    expect(((await admin.json()) as AuditPage).items).toMatchObject([{ action: "secret.put", target: "secret:pat" }]);

    const inverted = await api("/v1/audit?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", { key: reader });
    expect(inverted.status).toBe(400);
    expect(((await inverted.json()) as { code: string }).code).toBe("request.invalid");
    expect((await api("/v1/audit?cursor=bogus", { key: reader })).status).toBe(400);
    expect((await api("/v1/audit?action=run.explode", { key: reader })).status).toBe(400);
    // Reading the trail needs audit:read, which no key has by default.
    expect((await api("/v1/audit", { key })).status).toBe(403);
  });
});
