import { reset, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { TenantSync } from "../../schema/run";
import { RETENTION_DEFAULTS, RETENTION_MAX_SECONDS } from "../../schema/retention";
import { archiveKey, runPrefix } from "../../src/artifacts/keys";
import { emptyTotals } from "../../src/analytics/usage";
import { ADMIN_TOKEN, api, createRun, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

const setRetention = (tenant: string, json: unknown) =>
  api(`/v1/admin/tenants/${tenant}/retention`, { method: "PUT", key: ADMIN_TOKEN, json });

const usage = { ...emptyTotals(), steps: 1, attempts: 1, wallMs: 1, models: {}, pools: {} };

/** A run's final sync, as its object sends it (the run's own object is not needed by the sweeps). */
function finished(runId: string, over: Partial<TenantSync> = {}): TenantSync {
  const at = Date.now();
  return {
    runId,
    project: "p",
    blueprint: null,
    status: "failed",
    priority: "normal",
    createdAt: at - 1_000,
    at,
    version: 9,
    usage,
    outcome: { durationMs: 1_000, queuedMs: 0, errorCode: null },
    storage: { stateBytes: 72 * 1024, artifactBytes: 30 },
    ...over,
  };
}

const lineage = (runId: string) => ({
  runId,
  stepId: "s",
  attempt: 1,
  jobType: "t",
  blueprint: null,
  traceId: "0".repeat(32),
  inputSha256: null,
  upstream: [],
});

/** An artifact key of `runId`, written to R2. */
async function put(tenant: string, runId: string, name: string): Promise<string> {
  const key = `${runPrefix(tenant, runId)}steps/s/1/${name}`;
  await env.ARTIFACTS.put(key, "x".repeat(10));
  return key;
}

const exists = async (key: string) => (await env.ARTIFACTS.head(key)) !== null;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the tenant's alarm until nothing is due now (each pass is bounded). */
async function sweep(tenant: string): Promise<void> {
  for (let i = 0; i < 10; i++) if (!(await runDurableObjectAlarm(env.TENANT.getByName(tenant)))) return;
}

describe("retention policy", () => {
  it("is set by the operator, read by the tenant, with project overrides and defaults filled in", async () => {
    const key = await newTenantKey("ret-a");
    const before = await api("/v1/retention", { key });
    expect(before.status).toBe(200);
    expect(await before.json()).toMatchObject({ policy: RETENTION_DEFAULTS, projects: {}, minSeconds: 2 });

    const set = await setRetention("ret-a", { archiveSeconds: 30 * 86_400, projects: { fast: { runHotSeconds: 5 } } });
    expect(set.status).toBe(200);
    const read = (await (await api("/v1/retention", { key })).json()) as Record<string, unknown>;
    expect(read).toEqual(await set.json());
    // The operator reads the same.
    const adminRead = await api("/v1/admin/tenants/ret-a/retention", { key: ADMIN_TOKEN });
    expect(await adminRead.json()).toEqual(read);
    expect(read).toMatchObject({
      policy: { ...RETENTION_DEFAULTS, archiveSeconds: 30 * 86_400 },
      // A project's periods in force: its own, then the tenant's, then the defaults.
      projects: { fast: { ...RETENTION_DEFAULTS, archiveSeconds: 30 * 86_400, runHotSeconds: 5 } },
    });

    // A run is told its project's periods when the tenant opens it (the run archives hotMs after it finishes).
    const opened = await env.TENANT.getByName("ret-a").openRun({
      runId: "run_ret_open",
      project: "fast",
      blueprint: null,
      priority: "normal",
      createdAt: Date.now(),
    });
    expect(opened.ok && opened.retention).toEqual({
      hotMs: 5_000,
      archiveMs: 30 * 86_400_000,
      unpublishedMs: RETENTION_DEFAULTS.unpublishedArtifactSeconds * 1_000,
    });
  });

  it("refuses periods below the deployment's minimum or above ten years with field errors, changing nothing", async () => {
    const key = await newTenantKey("ret-b");
    expect((await setRetention("ret-b", { runHotSeconds: 60 })).status).toBe(200);
    // The tests' RETENTION_MIN_SECONDS is 2: one second is too short (and 5 s, below production's 3600, is fine).
    const short = await setRetention("ret-b", { runHotSeconds: 5, projects: { q: { archiveSeconds: 1 } } });
    expect(short.status).toBe(400);
    expect(await short.json()).toMatchObject({
      code: "request.invalid",
      errors: [{ path: "projects.q.archiveSeconds", message: "must be at least 2 seconds" }],
    });
    const long = await setRetention("ret-b", { archiveSeconds: RETENTION_MAX_SECONDS + 1 });
    expect(long.status).toBe(400);
    const body = (await long.json()) as { code: string; errors: { path: string }[] };
    expect(body.code).toBe("request.invalid");
    expect(body.errors.map((e) => e.path)).toEqual(["archiveSeconds"]);
    const read = (await (await api("/v1/retention", { key })).json()) as { policy: { runHotSeconds: number } };
    expect(read.policy.runHotSeconds).toBe(60);
    expect((await setRetention("no-such-tenant", { runHotSeconds: 60 })).status).toBe(404);
    // The tenant's own keys cannot set it.
    expect((await api("/v1/admin/tenants/ret-b/retention", { method: "PUT", key, json: {} })).status).toBe(401);
  });
});

describe("a run's retention", () => {
  it("is the project's when the run is opened, and a retry keeps its source's", async () => {
    const key = await newTenantKey("keeps");
    expect(
      (await setRetention("keeps", { runHotSeconds: 86_400, projects: { short: { runHotSeconds: 3_600 } } })).status,
    ).toBe(200);
    const retentionOf = (runId: string) =>
      runInDurableObject(env.RUN.getByName(runId), (_o, state) =>
        JSON.parse(state.storage.sql.exec<{ retention: string }>("SELECT retention FROM run").one().retention),
      );
    const failing = await createRun(
      { project: "short", steps: [{ id: "f", type: "system.fail", input: { times: 99 } }] },
      key,
    );
    expect((await waitForRun(failing.id, { key })).status).toBe("failed");
    expect(await retentionOf(failing.id)).toMatchObject({ hotMs: 3_600_000 });
    // The policy changes; the retry is told what its source was.
    expect((await setRetention("keeps", { runHotSeconds: 7_200 })).status).toBe(200);
    const retry = await api(`/v1/runs/${failing.id}/retry`, { method: "POST", key });
    expect(retry.status).toBe(202);
    const retryId = ((await retry.json()) as { id: string }).id;
    expect(await retentionOf(retryId)).toMatchObject({ hotMs: 3_600_000 });
    const other = await createRun({ project: "short", steps: [{ id: "a", type: "system.echo", input: {} }] }, key);
    expect(await retentionOf(other.id)).toMatchObject({ hotMs: 7_200_000 });
  });
});

describe("expiry", () => {
  it("deletes a finished run's unpublished artifacts after their period, keeping its archive and what a running run or a pending delivery needs", async () => {
    const T = "exp-a";
    await newTenantKey(T);
    await setRetention(T, { unpublishedArtifactSeconds: 2 });
    const tenant = env.TENANT.getByName(T);
    // A finished run: its artifact goes, its archive stays.
    const doneKey = await put(T, "run_done", "out.txt");
    await env.ARTIFACTS.put(archiveKey(T, "run_done"), "archive");
    await tenant.recordRun(finished("run_done"));
    // A running run: no deadline until it finishes.
    const liveKey = await put(T, "run_live", "partial.txt");
    await tenant.recordRun(finished("run_live", { status: "running", version: 3, usage: undefined }));
    // A finished run with a webhook delivery still pending (its endpoint answers nothing: it stays pending).
    const heldKey = await put(T, "run_held", "out.txt");
    await tenant.createWebhook({ url: "https://unreachable.invalid/hook", eventTypes: ["run.failed"] });
    await tenant.acceptEvents([
      {
        eventId: "evt_held",
        type: "run.failed",
        runId: "run_held",
        projectId: "p",
        occurredAt: new Date().toISOString(),
        data: {},
      },
    ]);
    await tenant.recordRun(finished("run_held"));

    await sleep(2_200);
    await sweep(T);
    expect(await exists(doneKey)).toBe(false);
    expect(await exists(archiveKey(T, "run_done"))).toBe(true);
    expect(await exists(liveKey)).toBe(true);
    expect(await exists(heldKey)).toBe(true);
    // The deferred deadline is a row: it is looked at again later, not forgotten.
    const due = await runInDurableObject(tenant, (_i, state) =>
      state.storage.sql
        .exec<{ run_id: string; due: number | null }>(
          "SELECT run_id, unpublished_due AS due FROM run_index WHERE run_id IN ('run_done', 'run_held') ORDER BY run_id",
        )
        .toArray(),
    );
    expect(due[0]).toEqual({ run_id: "run_done", due: null });
    expect(due[1]?.due).toBeGreaterThan(Date.now());
  }, 20_000);

  it("keeps a failed run's artifacts while a retry that carries them is still running", async () => {
    const T = "dev";
    // The development tenant is made by the dev key's first use.
    expect((await api("/v1/runs")).status).toBe(200);
    expect(
      (
        await api(`/v1/admin/tenants/${T}/scanning`, {
          method: "PATCH",
          key: ADMIN_TOKEN,
          json: { projects: { rp: "warn" } },
        })
      ).status,
    ).toBe(200);
    await setRetention(T, { projects: { rp: { unpublishedArtifactSeconds: 2 } } });
    const steps = [
      { id: "build", type: "system.secrets", input: { mode: "plain" } },
      {
        id: "gate",
        type: "approval",
        input: { title: "Ship?", approvers: { allowRequester: true } },
        dependsOn: ["build"],
      },
    ];
    const source = await createRun({ project: "rp", steps });
    const waiting = async (id: string) => {
      // 30 s: a two-step run reaches its gate in well under a second, but one run of the suite on
      // a loaded machine (load average above 15 on two cores) needed more than 10 s.
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(20)) {
        const run = (await (await api(`/v1/runs/${id}`)).json()) as { steps: { id: string; status: string }[] };
        if (run.steps.find((s) => s.id === "gate")?.status === "waiting") return;
      }
      throw new Error(`${id} never waited at its gate`);
    };
    await waiting(source.id);
    expect((await api(`/v1/runs/${source.id}/steps/gate/reject`, { method: "POST", json: {} })).status).toBe(200);
    expect((await waitForRun(source.id)).status).toBe("failed");
    const keys = (await env.ARTIFACTS.list({ prefix: runPrefix(T, source.id) })).objects.map((o) => o.key);
    expect(keys.length).toBeGreaterThan(0);
    // The retry carries `build` (its artifacts, by key) and waits at its gate again: it is running.
    const retry = await api(`/v1/runs/${source.id}/retry`, { method: "POST" });
    expect(retry.status).toBe(202);
    const retryId = ((await retry.json()) as { id: string }).id;
    await waiting(retryId);

    await sleep(2_200);
    await sweep(T);
    for (const key of keys) expect(await exists(key), key).toBe(true);
    // Deferred, not forgotten: looked at again once the retry may have finished.
    const due = await runInDurableObject(env.TENANT.getByName(T), (_i, state) =>
      state.storage.sql
        .exec<{ due: number | null }>("SELECT unpublished_due AS due FROM run_index WHERE run_id = ?", source.id)
        .one(),
    );
    expect(due.due).toBeGreaterThan(Date.now());
  }, 90_000);

  it("deletes an expired archive with the run's keys and index row, except the bytes a retained version holds", async () => {
    const T = "exp-b";
    const key = await newTenantKey(T);
    await setRetention(T, { archiveSeconds: 2, unpublishedArtifactSeconds: 3_600 });
    const tenant = env.TENANT.getByName(T);
    const published = await put(T, "run_old", "app.zip");
    const scratch = await put(T, "run_old", "scratch.txt");
    await env.ARTIFACTS.put(archiveKey(T, "run_old"), "archive");
    await tenant.recordRun(
      finished("run_old", {
        status: "succeeded",
        published: [
          {
            name: "app.zip",
            key: published,
            size: 10,
            contentType: "application/zip",
            sha256: "a".repeat(64),
            lineage: lineage("run_old"),
          },
        ],
      }),
    );
    // Hot: its state is held in its object, priced as Durable Object storage.
    const hot = (await (await api("/v1/usage", { key })).json()) as {
      storage: Record<string, number>;
      prices: { perDoStorageGbMonthUsd: number; perR2StorageGbMonthUsd: number };
    };
    expect(hot.storage).toMatchObject({ runStateBytes: 72 * 1024, archiveBytes: 0, artifactBytes: 30 });
    expect(hot.storage.monthlyCostUsd).toBe(
      Math.round(
        ((72 * 1024) / 1e9) * hot.prices.perDoStorageGbMonthUsd * 1e6 +
          (30 / 1e9) * hot.prices.perR2StorageGbMonthUsd * 1e6,
      ) / 1e6,
    );
    expect(await tenant.recordArchived("run_old", { at: Date.now(), bytes: 7 })).toBe(true);
    const usageNow = (await (await api("/v1/usage", { key })).json()) as { storage: Record<string, number> };
    expect(usageNow.storage).toMatchObject({ runStateBytes: 0, archiveBytes: 7, artifactBytes: 30 });

    await sleep(2_200);
    await sweep(T);
    expect(await exists(archiveKey(T, "run_old"))).toBe(false);
    expect(await exists(scratch)).toBe(false);
    // v1 is the latest version: it is kept, and its bytes with it.
    expect(await exists(published)).toBe(true);
    const runs = (await (await api("/v1/runs", { key })).json()) as { items: unknown[] };
    expect(runs.items).toEqual([]);
    const versions = (await (await api("/v1/projects/p/artifacts/app.zip/versions", { key })).json()) as {
      items: { version: number; status: string }[];
    };
    expect(versions.items).toMatchObject([{ version: 1, status: "published" }]);
  }, 20_000);

  it("expires a superseded version after its period unless pinned; an expired version stays listed, marked expired", async () => {
    const T = "exp-c";
    const key = await newTenantKey(T);
    await setRetention(T, { supersededArtifactSeconds: 2, unpublishedArtifactSeconds: 3_600 });
    const tenant = env.TENANT.getByName(T);
    const keys: Record<string, string> = {};
    for (const [i, runId] of ["run_v1", "run_v2"].entries()) {
      const published = [];
      for (const name of ["a.txt", "b.txt"]) {
        keys[`${runId}/${name}`] = await put(T, runId, name);
        published.push({
          name,
          key: keys[`${runId}/${name}`]!,
          size: 10,
          contentType: "text/plain",
          sha256: String(i).repeat(64),
          lineage: lineage(runId),
        });
      }
      await tenant.recordRun(finished(runId, { status: "succeeded", published }));
      // b.txt v1 is pinned before v2 supersedes it, and stays pinned.
      if (i === 0) {
        const pin = await api("/v1/projects/p/artifacts/b.txt/versions/1/pin", { method: "PUT", key });
        expect(pin.status).toBe(200);
        expect(await pin.json()).toMatchObject({ version: 1, pinned: true, status: "published" });
      }
    }
    const before = (await (await api("/v1/projects/p/artifacts/a.txt/versions", { key })).json()) as {
      items: { version: number; status: string; expiresAt: string | null }[];
    };
    expect(before.items[1]).toMatchObject({ version: 1, status: "superseded" });
    expect(before.items[1]?.expiresAt).not.toBeNull();

    await sleep(2_200);
    await sweep(T);
    expect(await exists(keys["run_v1/a.txt"]!)).toBe(false);
    expect(await exists(keys["run_v1/b.txt"]!)).toBe(true);
    expect(await exists(keys["run_v2/a.txt"]!)).toBe(true);
    const a = (await (await api("/v1/projects/p/artifacts/a.txt/versions", { key })).json()) as {
      items: { version: number; status: string; expiredAt: string | null }[];
    };
    expect(a.items.map((v) => [v.version, v.status])).toEqual([
      [2, "published"],
      [1, "expired"],
    ]);
    expect(a.items[1]?.expiredAt).not.toBeNull();
    // Its bytes are gone: it cannot be pinned back, and a diff against it says so.
    expect((await api("/v1/projects/p/artifacts/a.txt/versions/1/pin", { method: "PUT", key })).status).toBe(404);
    const b = (await (await api("/v1/projects/p/artifacts/b.txt/versions", { key })).json()) as {
      items: { version: number; status: string; pinned: boolean }[];
    };
    expect(b.items.map((v) => [v.version, v.status, v.pinned])).toEqual([
      [2, "published", false],
      [1, "superseded", true],
    ]);
    // Unpinned, it has its period from now.
    const unpin = await api("/v1/projects/p/artifacts/b.txt/versions/1/pin", { method: "DELETE", key });
    expect(await unpin.json()).toMatchObject({ pinned: false, status: "superseded" });
    await sleep(2_200);
    await sweep(T);
    expect(await exists(keys["run_v1/b.txt"]!)).toBe(false);
  }, 30_000);
});
