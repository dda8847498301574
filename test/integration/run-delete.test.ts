import { abortAllDurableObjects, reset, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { WEBHOOK_EVENT_TYPES } from "../../schema/webhooks";
import { archiveKey, runPrefix } from "../../src/artifacts/keys";
import type { TenantObject } from "../../src/control/tenant/object";
import { api, createRun, newTenantKey, waitForRun } from "../support/api";
import { tablesIn } from "../support/storage";

afterEach(() => reset());

const TENANT = "dev";
const MICROSERVICE = { project: "p", blueprint: "microservice", input: { name: "deleted-api", resources: ["things"] } };

const tablesOf = (runId: string) => tablesIn(env.RUN.getByName(runId));

const keysOf = async (runId: string) => (await env.ARTIFACTS.list({ prefix: runPrefix(TENANT, runId) })).objects;
const listed = async () =>
  ((await (await api("/v1/runs?limit=100")).json()) as { items: { id: string }[] }).items.map((r) => r.id);
const del = (runId: string, key?: string) => api(`/v1/runs/${runId}`, { method: "DELETE", ...(key ? { key } : {}) });

/** Archives the finished run now (its archive timer moved to the past, the object restarted). */
async function archive(runId: string): Promise<void> {
  await runInDurableObject(env.RUN.getByName(runId), (_o, state) => {
    state.storage.sql.exec("UPDATE timer SET due_at = ? WHERE kind = 'archive'", Date.now() - 1);
  });
  await abortAllDurableObjects();
  expect(await runDurableObjectAlarm(env.RUN.getByName(runId))).toBe(true);
  expect(await env.ARTIFACTS.head(archiveKey(TENANT, runId))).not.toBeNull();
}

describe("DELETE /v1/runs/{id}", () => {
  it("deletes a finished run now: its object's state, its artifacts, its index row and its Idempotency-Key", async () => {
    const created = await api("/v1/runs", { method: "POST", json: MICROSERVICE, headers: { "idempotency-key": "k1" } });
    const { id } = (await created.json()) as { id: string };
    expect((await waitForRun(id)).status).toBe("succeeded");
    expect((await keysOf(id)).length).toBeGreaterThan(0);
    expect(await listed()).toContain(id);

    expect((await del(id)).status).toBe(204);
    expect(await tablesOf(id)).toEqual([]);
    expect(await keysOf(id)).toEqual([]);
    expect(await listed()).not.toContain(id);
    for (const path of ["", "/events", "/usage", "/artifacts"])
      expect((await api(`/v1/runs/${id}${path}`)).status, path).toBe(404);
    // The key no longer names it: the same request makes a new run.
    const again = await api("/v1/runs", { method: "POST", json: MICROSERVICE, headers: { "idempotency-key": "k1" } });
    expect(again.status).toBe(202);
    expect(((await again.json()) as { id: string }).id).not.toBe(id);
    // Gone: a second delete finds nothing.
    expect((await del(id)).status).toBe(404);
  });

  it("deletes an archived run: its archive and artifacts in R2, and its index row", async () => {
    const run = await createRun(MICROSERVICE);
    expect((await waitForRun(run.id)).status).toBe("succeeded");
    await archive(run.id);
    expect(await tablesOf(run.id)).toEqual([]);

    expect((await del(run.id)).status).toBe(204);
    expect(await keysOf(run.id)).toEqual([]);
    expect(await listed()).not.toContain(run.id);
    expect((await api(`/v1/runs/${run.id}`)).status).toBe(404);
    expect((await del(run.id)).status).toBe(404);
  });

  it("a delete racing the run's archival leaves nothing: no archive written after the delete, no run to read", async () => {
    const run = await createRun({ project: "p", steps: [{ id: "a", type: "system.hash" }] });
    expect((await waitForRun(run.id)).status).toBe("succeeded");
    await runInDurableObject(env.RUN.getByName(run.id), (_o, state) => {
      state.storage.sql.exec("UPDATE timer SET due_at = ? WHERE kind = 'archive'", Date.now() - 1);
    });
    await abortAllDurableObjects();
    const [archived, first] = await Promise.all([runDurableObjectAlarm(env.RUN.getByName(run.id)), del(run.id)]);
    expect(archived).toBe(true);
    // A delete that meets the run still handing its last events to its tenant is told to try again
    // (409 run.active, "try again shortly"); how often that happens depends on the machine's load.
    let deleted = first;
    for (let i = 0; deleted.status === 409 && i < 20; i++) {
      expect(((await deleted.json()) as { code: string }).code).toBe("run.active");
      await new Promise((r) => setTimeout(r, 50));
      deleted = await del(run.id);
    }
    expect(deleted.status).toBe(204);
    expect(await keysOf(run.id)).toEqual([]);
    expect(await tablesOf(run.id)).toEqual([]);
    expect((await api(`/v1/runs/${run.id}`)).status).toBe(404);
    expect(await listed()).not.toContain(run.id);
  });

  it("refuses a run still active (409 run.active), and another tenant's run is a 404 that deletes nothing", async () => {
    const run = await createRun({ project: "p", steps: [{ id: "a", type: "system.sleep", input: { ms: 2_000 } }] });
    const active = await del(run.id);
    expect(active.status).toBe(409);
    expect(((await active.json()) as { code: string }).code).toBe("run.active");
    expect((await waitForRun(run.id)).status).toBe("succeeded");

    const other = await newTenantKey("acme");
    expect((await del(run.id, other)).status).toBe(404);
    expect((await api(`/v1/runs/${run.id}`)).status).toBe(200);
    expect(await tablesOf(run.id)).not.toEqual([]);
    expect(await listed()).toContain(run.id);
    // Archived, it is still not the other tenant's to delete.
    await archive(run.id);
    expect((await del(run.id, other)).status).toBe(404);
    expect(await env.ARTIFACTS.head(archiveKey(TENANT, run.id))).not.toBeNull();
    expect(
      ((await (await api(`/v1/runs/${run.id}`)).json()) as { archivedAt: string | null }).archivedAt,
    ).not.toBeNull();
  });

  it("webhook deliveries of the run's events are still made after the delete: they live in the tenant", async () => {
    const endpoint = (await (
      await api("/v1/webhooks", {
        method: "POST",
        json: { url: "https://hooks.example.com/factory", eventTypes: ["run.*"] },
      })
    ).json()) as { id: string };
    const run = await createRun({ project: "p", steps: [{ id: "a", type: "system.hash" }] });
    expect((await waitForRun(run.id)).status).toBe("succeeded");
    const log = (await (await api(`/v1/runs/${run.id}/events?limit=100`)).json()) as {
      items: { eventId: string; type: string }[];
    };
    const wanted = log.items.filter(
      (e) => (WEBHOOK_EVENT_TYPES as readonly string[]).includes(e.type) && e.type.startsWith("run."),
    );
    expect(wanted.length).toBeGreaterThanOrEqual(2);
    // At once: the run's last events may still be in its outbox; the delete hands them over first.
    expect((await del(run.id)).status).toBe(204);

    type Page = { items: { id: string; eventId: string; status: string }[] };
    let planned: Page["items"] = [];
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      planned = ((await (await api(`/v1/webhooks/${endpoint.id}/deliveries?limit=100`)).json()) as Page).items;
      if (wanted.every((e) => planned.some((d) => d.eventId === e.eventId))) break;
    }
    expect(planned.map((d) => d.eventId).sort()).toEqual(wanted.map((e) => e.eventId).sort());
    // Each one not yet made is still handed to the sender, with its payload: the delete took none away.
    const tenant = env.TENANT.getByName(TENANT);
    for (const d of planned.filter((p) => p.status === "pending")) {
      const task = await runInDurableObject(tenant, (object: TenantObject) => object.deliveryTask(d.id));
      expect(task?.eventId, d.id).toBe(d.eventId);
      expect(task?.payload).toContain(run.id);
    }
  });
});
