import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PurgeAudit, PurgeProgress } from "../../schema/tenants";
import { startRuntime, waitForRun, type Runtime } from "./support/runtime";

let rt: Runtime;
beforeAll(async () => {
  rt = await startRuntime();
});
afterAll(() => rt?.stop());

const TENANT = "leaving-co";
// Three purge batches (PURGE_RUN_BATCH is 20, src/control/tenant/purge.ts), so the kill lands with
// runs purged and runs left; 100 (five batches) tested nothing more and took 62 s of CI under load.
const RUNS = 60;

describe("kill -9 of the whole runtime mid-purge", () => {
  it("the tenant's purge resumes after a restart and finishes, every run purged and counted once", async () => {
    const admin = (path: string, init: { method?: string; json?: unknown } = {}) =>
      rt.fetch(`/v1/admin${path}`, { ...init, headers: { authorization: `Bearer ${rt.adminToken}` } });
    expect((await admin("/tenants", { method: "POST", json: { id: TENANT, name: "Leaving" } })).status).toBe(201);
    const created = await admin(`/tenants/${TENANT}/keys`, { method: "POST", json: {} });
    const tenant = rt.as(((await created.json()) as { key: string }).key);

    const ids: string[] = [];
    const post = async (json: unknown) => {
      const res = await tenant.fetch("/v1/runs", { method: "POST", json });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    };
    await post({ project: "p", blueprint: "microservice", input: { name: "leaving-api", resources: ["things"] } });
    // Posted together (one at a time they waited on each other); awaited in turn, which costs one
    // GET for each run already finished.
    await Promise.all(
      Array.from({ length: RUNS }, () => post({ project: "p", steps: [{ id: "h", type: "system.hash" }] })),
    );
    for (const id of ids) expect((await waitForRun(tenant, id)).status).toBe("succeeded");
    // One still running when the purge begins: it is cancelled, then purged.
    await post({ project: "p", steps: [{ id: "s", type: "system.sleep", input: { ms: 60_000 } }] });

    const purge = await admin(`/tenants/${TENANT}`, {
      method: "DELETE",
      json: { reason: "contract ended", requestedBy: "e2e" },
    });
    expect(purge.status).toBe(202);
    expect((await tenant.fetch("/v1/runs")).status).toBe(403);

    // Killed part way through its runs.
    let atCrash: PurgeProgress | null = null;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const progress = ((await (await admin(`/tenants/${TENANT}`)).json()) as { purge: PurgeProgress }).purge;
      if (progress.counts.runs > 0) {
        atCrash = progress;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    rt.crash();
    expect(atCrash?.phase).toBe("runs");
    expect(atCrash?.counts.runs).toBeLessThan(ids.length);
    await rt.restart();

    // The tenant's alarm picks the purge up where its rows say, and finishes it.
    const finished = Date.now() + 90_000;
    while ((await admin(`/tenants/${TENANT}`)).status !== 404) {
      expect(Date.now()).toBeLessThan(finished);
      await new Promise((r) => setTimeout(r, 250));
    }
    const audit = ((await (await admin(`/tenants/${TENANT}/purges`)).json()) as { items: PurgeAudit[] }).items;
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ tenantId: TENANT, reason: "contract ended", requestedBy: "e2e" });
    expect(audit[0]?.counts?.runs).toBe(ids.length);
    expect(audit[0]?.counts?.keys).toBe(1);
    // The old key is refused; the id, free again, holds none of the old runs.
    expect((await tenant.fetch("/v1/runs")).status).toBe(401);
    expect((await admin("/tenants", { method: "POST", json: { id: TENANT, name: "Back" } })).status).toBe(201);
    const again = rt.as(
      ((await (await admin(`/tenants/${TENANT}/keys`, { method: "POST", json: {} })).json()) as { key: string }).key,
    );
    expect(((await (await again.fetch("/v1/runs")).json()) as { items: unknown[] }).items).toEqual([]);
    for (const id of [ids[0], ids[50], ids.at(-1)]) expect((await again.fetch(`/v1/runs/${id}`)).status).toBe(404);
  }, 240_000);
});
