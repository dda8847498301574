import { abortAllDurableObjects, reset, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { RunView } from "../../schema/api";
import type { TenantSync } from "../../schema/run";
import type { TenantObject } from "../../src/control/tenant/object";
import { archiveKey } from "../../src/artifacts/keys";
import { archiveRun, buildArchive, writeArchive } from "../../src/control/run/archive";
import { decodeArchive, encodeArchive } from "../../src/control/run/archive-format";
import type { RunStore } from "../../src/control/run/store";
import { runStub } from "../../src/control/run/stub";
import { newRunId } from "../../src/lib/crypto";
import { must } from "../../src/lib/must";
import { api, createRun, newTenantKey, waitForRun } from "../support/api";
import { tablesIn } from "../support/storage";

afterEach(() => reset());

const TENANT = "dev";
const storeOf = (object: unknown) => (object as { store: RunStore }).store;

const tablesOf = (runId: string) => tablesIn(env.RUN.getByName(runId));

/**
 * Ends the finished run's hot period now, as if its retention had passed: its archive timer row is
 * moved to the past and the object restarted (it mirrors its timers in memory), so its next alarm
 * archives it. Its retention itself is the default (7 days): no API path shortens it.
 */
async function endHotPeriod(runId: string): Promise<number> {
  const dueAt = Date.now() - 1;
  await runInDurableObject(env.RUN.getByName(runId), (_object, state) => {
    const moved = state.storage.sql
      .exec("UPDATE timer SET due_at = ? WHERE kind = 'archive' RETURNING 1", dueAt)
      .toArray();
    expect(moved.length).toBe(1);
  });
  await abortAllDurableObjects();
  return dueAt;
}

/** The archive's bytes and its stored checksum. */
async function archiveInR2(runId: string): Promise<{ sha256: string | undefined; bytes: number } | null> {
  const object = await env.ARTIFACTS.head(archiveKey(TENANT, runId));
  return object ? { sha256: object.customMetadata?.sha256, bytes: object.size } : null;
}

/** What a client sees of the run: each read API's answer. */
async function reads(runId: string) {
  const json = async (path: string) => {
    const res = await api(path);
    expect(res.status, path).toBe(200);
    return res.json();
  };
  return {
    run: (await json(`/v1/runs/${runId}`)) as RunView,
    events: await json(`/v1/runs/${runId}/events?limit=1000`),
    page: await json(`/v1/runs/${runId}/events?after=2&limit=3`),
    usage: await json(`/v1/runs/${runId}/usage`),
    artifacts: (await json(`/v1/runs/${runId}/artifacts`)) as { items: { name: string; sha256: string }[] },
  };
}

async function finishedRun(
  body: unknown = {
    project: "p",
    blueprint: "microservice",
    input: { name: "archived-api", resources: ["things"] },
  },
): Promise<string> {
  const run = await createRun(body);
  expect((await waitForRun(run.id)).status).toBe("succeeded");
  return run.id;
}

describe("archiving a finished run", () => {
  it("answers every read as before, from R2, with archivedAt; the object holds nothing; controls are refused", async () => {
    const id = await finishedRun();
    const hot = await reads(id);
    expect(hot.run.archivedAt).toBeNull();
    expect(hot.artifacts.items.length).toBeGreaterThan(0);
    expect(await archiveInR2(id)).toBeNull();

    const dueAt = await endHotPeriod(id);
    expect(await runDurableObjectAlarm(env.RUN.getByName(id))).toBe(true);

    expect(await tablesOf(id)).toEqual([]);
    expect(await runInDurableObject(env.RUN.getByName(id), (_o, state) => state.storage.getAlarm())).toBeNull();
    const stored = must(await archiveInR2(id), "the archive");
    expect(stored.sha256).toMatch(/^[0-9a-f]{64}$/);

    const cold = await reads(id);
    // Field by field: the same answers, the run now saying when it was archived.
    expect(cold.run).toEqual({ ...hot.run, archivedAt: new Date(dueAt).toISOString() });
    expect(cold.events).toEqual(hot.events);
    expect(cold.page).toEqual(hot.page);
    expect(cold.usage).toEqual(hot.usage);
    expect(cold.artifacts).toEqual(hot.artifacts);

    // The index keeps the summary, marked archived.
    const list = (await (await api("/v1/runs?limit=5")).json()) as { items: { id: string; archivedAt: string }[] };
    expect(list.items.find((r) => r.id === id)?.archivedAt).toBe(new Date(dueAt).toISOString());

    // An artifact whose bytes are still in R2 downloads as before.
    const first = must(hot.artifacts.items[0], "an artifact");
    const download = await api(`/v1/runs/${id}/artifacts/${first.name}`);
    expect(download.status).toBe(200);
    expect(download.headers.get("x-content-sha256")).toBe(first.sha256);
    await download.arrayBuffer();

    // The live stream of an archived run sends its log and ends.
    const stream = await api(`/v1/runs/${id}/events`, { headers: { accept: "text/event-stream" } });
    const text = await stream.text();
    expect(text.match(/^event: /gm)?.length).toBe((hot.events as { items: unknown[] }).items.length);
    expect(text).toContain("event: run.succeeded");

    for (const path of ["cancel", "pause", "resume", "retry", "signals/go", "steps/s1/approve"]) {
      const res = await api(`/v1/runs/${id}/${path}`, { method: "POST", json: {} });
      expect(res.status, path).toBe(409);
      expect(((await res.json()) as { code: string }).code, path).toBe("run.archived");
    }

    // Another tenant reads its own prefix only: the run does not exist for it.
    const other = await newTenantKey("acme");
    for (const path of ["", "/events", "/usage", "/artifacts"])
      expect((await api(`/v1/runs/${id}${path}`, { key: other })).status, path).toBe(404);
    expect((await api(`/v1/runs/${id}/cancel`, { method: "POST", key: other })).status).toBe(404);
  });

  it("a run whose retention is short archives itself when its hot period ends, by its own alarm", async () => {
    expect((await api("/v1/runs")).status).toBe(200); // the dev tenant exists from its first request
    const id = newRunId();
    // Made on its object directly: only the tenant's policy (not an API caller) sets a run's retention.
    await runStub(env, id).create({
      id,
      tenantId: TENANT,
      project: "p",
      blueprint: null,
      traceId: `${"0".repeat(31)}1`,
      failurePolicy: "fail-fast",
      priority: "normal",
      steps: [
        {
          id: "a",
          type: "system.hash",
          pool: "system",
          input: {},
          dependsOn: [],
          timeoutMs: 10_000,
          retry: { maxAttempts: 1, initialDelayMs: 10, maxDelayMs: 10 },
        },
      ],
      retention: { hotMs: 300, archiveMs: 60_000, unpublishedMs: 60_000 },
    });
    let run: RunView | null = null;
    for (let i = 0; i < 250 && !run?.archivedAt; i++) {
      await new Promise((r) => setTimeout(r, 40));
      const res = await api(`/v1/runs/${id}`);
      expect(res.status).toBe(200);
      run = (await res.json()) as RunView;
    }
    expect(run?.status).toBe("succeeded");
    expect(Date.parse(must(run?.archivedAt, "archivedAt"))).toBe(Date.parse(must(run?.finishedAt, "finishedAt")) + 300);
    expect(await tablesOf(id)).toEqual([]);
  });

  it("a kill between the R2 write and deleteAll: the next alarm finishes, with one archive, byte for byte", async () => {
    const id = await finishedRun();
    const hot = await reads(id);
    const dueAt = await endHotPeriod(id);
    // The archival's first half, then the object dies before it empties itself.
    const first = await runInDurableObject(env.RUN.getByName(id), async (object) =>
      writeArchive(env.ARTIFACTS, buildArchive(storeOf(object), dueAt)),
    );
    await abortAllDurableObjects();
    // Still whole in its object, and readable: the object answers while it holds the run.
    expect((await reads(id)).run).toEqual(hot.run);
    expect(await tablesOf(id)).not.toEqual([]);

    expect(await runDurableObjectAlarm(env.RUN.getByName(id))).toBe(true);
    expect(await tablesOf(id)).toEqual([]);
    expect(await archiveInR2(id)).toEqual({ sha256: first.sha256, bytes: first.bytes });
    expect((await reads(id)).run).toEqual({ ...hot.run, archivedAt: new Date(dueAt).toISOString() });
    // Nothing left to do: no alarm, and another one would find no run.
    expect(await runDurableObjectAlarm(env.RUN.getByName(id))).toBe(false);
  });

  it("a run that changes while its archive is written is archived again before its object empties: the archive left is what the object held last", async () => {
    const id = await finishedRun({ project: "p", steps: [{ id: "a", type: "system.hash" }] });
    const dueAt = await endHotPeriod(id);
    const told: number[] = [];
    const outcome = await runInDurableObject(env.RUN.getByName(id), async (object, state) => {
      const store = storeOf(object);
      const change = (work: () => void) =>
        state.storage.transactionSync(() => {
          store.beginTransaction();
          work();
          store.commit();
        });
      return archiveRun(
        {
          store,
          bucket: env.ARTIFACTS,
          retryAt: async (at) => change(() => store.setTimer("archive", "run", at)),
          // The object's own drain: the run's final webhook batch may still be held (slow machines).
          drainOutbox: () =>
            (object as unknown as { lifecycle: { drainOutbox(): Promise<boolean> } }).lifecycle.drainOutbox(),
          // The first archive written, a retry names the run (as `POST …/retry` would, meanwhile).
          recordArchived: async (_tenant, _run, archive) => {
            told.push(archive.at);
            if (told.length === 1) change(() => store.setRetriedAs("run_retried_meanwhile"));
          },
          dropStorage: async () => {
            await state.storage.deleteAll();
            store.forgetAll();
          },
        },
        Date.now(),
      );
    });
    expect(outcome).toBe("archived");
    expect(told).toEqual([dueAt, dueAt]);
    const stored = must(await env.ARTIFACTS.get(archiveKey(TENANT, id)), "the archive");
    const archive = decodeArchive(new Uint8Array(await stored.arrayBuffer()));
    expect(archive.run.retriedAs).toBe("run_retried_meanwhile");
    expect(stored.customMetadata?.sha256).toBe((await encodeArchive(archive)).sha256);
    expect(await tablesOf(id)).toEqual([]);
  });

  it("reads racing an archival answer the hot or the archived view, never a 404", async () => {
    const id = await finishedRun({ project: "p", steps: [{ id: "a", type: "system.hash" }] });
    await endHotPeriod(id);
    const stub = env.RUN.getByName(id);
    const seen: (string | null)[] = [];
    let archiving = true;
    const archived = runDurableObjectAlarm(stub).finally(() => {
      archiving = false;
    });
    const readers = Array.from({ length: 4 }, async () => {
      do {
        const res = await api(`/v1/runs/${id}`);
        expect(res.status).toBe(200);
        seen.push(((await res.json()) as RunView).archivedAt);
      } while (archiving);
    });
    await Promise.all([archived, ...readers]);
    expect(seen.length).toBeGreaterThan(4);
    expect(seen.every((a) => a === null || typeof a === "string")).toBe(true);
    expect(((await (await api(`/v1/runs/${id}`)).json()) as RunView).archivedAt).not.toBeNull();
  });

  it("the run's final sync tells its tenant what it holds: its database's size and its artifacts' bytes", async () => {
    const syncs: TenantSync[] = [];
    // RPC calls only methods of the class: the tenant's is wrapped on its prototype, for this test.
    const proto = await runInDurableObject(
      env.TENANT.getByName(TENANT),
      (object: TenantObject) => Object.getPrototypeOf(object) as TenantObject,
    );
    const record = proto.recordRun;
    proto.recordRun = function (this: TenantObject, sync: TenantSync) {
      syncs.push(sync);
      return record.call(this, sync);
    };
    let id: string;
    try {
      id = await finishedRun();
      // The final sync leaves just after the run's last transaction: wait for it.
      for (let i = 0; i < 100 && !syncs.some((s) => s.runId === id && s.storage); i++)
        await new Promise((r) => setTimeout(r, 20));
    } finally {
      proto.recordRun = record;
    }
    const final = syncs.find((s) => s.runId === id && s.status === "succeeded");
    const artifacts = (await (await api(`/v1/runs/${id}/artifacts`)).json()) as { items: { size: number }[] };
    expect(artifacts.items.length).toBeGreaterThan(0);
    expect(final?.storage?.artifactBytes).toBe(artifacts.items.reduce((n, a) => n + a.size, 0));
    const size = await runInDurableObject(env.RUN.getByName(id), (_o, state) => state.storage.sql.databaseSize);
    // Read inside the run's last transaction, before its writes: a page or two short of the end.
    expect(final?.storage?.stateBytes).toBeGreaterThan(0);
    expect(final?.storage?.stateBytes).toBeLessThanOrEqual(size);
    expect(syncs.filter((s) => s.runId === id && s.storage).length).toBe(1); // only the final one
  });

  it("holds what it stores: a run's object keeps no table after archival; a 50-step run's archive stays small", async () => {
    const id = await finishedRun({
      project: "p",
      steps: Array.from({ length: 50 }, (_, i) => ({
        id: `s${i}`,
        type: "system.hash",
        dependsOn: i ? [`s${i - 1}`] : [],
      })),
    });
    const before = await runInDurableObject(env.RUN.getByName(id), (_o, state) => state.storage.sql.databaseSize);
    await endHotPeriod(id);
    expect(await runDurableObjectAlarm(env.RUN.getByName(id))).toBe(true);
    expect(await tablesOf(id)).toEqual([]);
    const after = await runInDurableObject(env.RUN.getByName(id), (_o, state) => state.storage.sql.databaseSize);
    // deleteAll leaves SQLite's header page of an empty database: no table, no row.
    expect(after, `hot ${before} B`).toBeLessThanOrEqual(4096);
    const archive = must(await archiveInR2(id), "the archive");
    // The object's database held `before` bytes while hot (100 KiB measured).
    expect(archive.bytes, `archive ${archive.bytes} B; the hot database was ${before} B`).toBeLessThanOrEqual(
      ARCHIVE_BUDGET_50_STEPS,
    );
  });
});

/** A 50-step chain's archive, gzipped (run, steps, every event, usage): 5,976 B measured, with headroom. */
const ARCHIVE_BUDGET_50_STEPS = 8 * 1024;
