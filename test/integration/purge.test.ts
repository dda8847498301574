import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { runPrefix } from "../../src/artifacts/keys";
import { api, createRun, waitForRun } from "../support/api";
import { tablesIn } from "../support/storage";

afterEach(() => reset());

const TENANT = "dev";

const tablesOf = (runId: string) => tablesIn(env.RUN.getByName(runId));

/** The run's status as its tenant reads it (null: no such run). */
async function tenantView(runId: string): Promise<string | null> {
  const res = await api(`/v1/runs/${runId}`);
  return res.status === 404 ? null : ((await res.json()) as { status: string }).status;
}

describe("purging a run", () => {
  it("deletes a finished run's artifacts and its object's storage, and is idempotent", async () => {
    const run = await createRun({
      project: "p",
      blueprint: "microservice",
      input: { name: "purged-api", resources: ["things"] },
    });
    expect((await waitForRun(run.id)).status).toBe("succeeded");
    const prefix = runPrefix(TENANT, run.id);
    expect((await env.ARTIFACTS.list({ prefix })).objects.length).toBeGreaterThan(0);
    expect(await tablesOf(run.id)).not.toEqual([]);

    const stub = env.RUN.getByName(run.id);
    const purged = await stub.purge(TENANT);
    expect(purged).toMatchObject({ ok: true });
    expect(purged?.ok && purged.deleted).toBeGreaterThan(0);
    expect((await env.ARTIFACTS.list({ prefix })).objects).toEqual([]);
    expect(await tablesOf(run.id)).toEqual([]);
    expect(await tenantView(run.id)).toBeNull();
    // Again: nothing left to purge; reading the emptied object wrote nothing back.
    expect(await stub.purge(TENANT)).toBeNull();
    expect(await tablesOf(run.id)).toEqual([]);
  });

  it("refuses a run that is not finished, and another tenant's run, changing nothing", async () => {
    const run = await createRun({ project: "p", steps: [{ id: "a", type: "system.sleep", input: { ms: 3_000 } }] });
    const stub = env.RUN.getByName(run.id);
    expect(await stub.purge("someone-else")).toBeNull();
    expect(await stub.purge(TENANT)).toMatchObject({ ok: false, code: "run.active" });
    expect(await tenantView(run.id)).not.toBe("succeeded");
    expect((await waitForRun(run.id)).status).toBe("succeeded");
  });
});
