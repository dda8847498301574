/**
 * Retention, deletion and purge of a tenant whose runs are indexed on several shard objects
 * (src/control/tenant/shards.ts): the policy reaches the shards, a run's archive is recorded on the
 * shard that indexed it, expiry there keeps what home's published versions hold, a deleted run
 * leaves every shard, storage sums over shards, and a purge empties every shard.
 */
import { reset, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, expect, it } from "vitest";
import { shardName } from "../../src/control/tenant/shards";
import { ADMIN_TOKEN, api, newTenantKey, waitForRun } from "../support/api";
import { tablesIn, until } from "../support/storage";

afterEach(() => reset());

const TENANT = "wide";
const SHARDS = 3;

/** Each shard's index: run id → archived_at. */
async function indexes(): Promise<Map<string, number | null>[]> {
  const out: Map<string, number | null>[] = [];
  for (let k = 0; k < SHARDS; k++)
    out.push(
      await runInDurableObject(env.TENANT.getByName(shardName(TENANT, k)), (_o, state) => {
        const tables = state.storage.sql
          .exec<{ n: number }>("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'run_index'")
          .one().n;
        if (tables === 0) return new Map<string, number | null>();
        return new Map(
          state.storage.sql
            .exec<{ run_id: string; archived_at: number | null }>("SELECT run_id, archived_at FROM run_index")
            .toArray()
            .map((r) => [r.run_id, r.archived_at] as [string, number | null]),
        );
      }),
    );
  return out;
}

it("archives, expires, deletes and purges the runs of a tenant spread over shards", async () => {
  const key = await newTenantKey(TENANT);
  const limits = await api(`/v1/admin/tenants/${TENANT}`, {
    method: "PATCH",
    key: ADMIN_TOKEN,
    json: { limits: { shards: SHARDS } },
  });
  expect(limits.status).toBe(200);
  const policy = await api(`/v1/admin/tenants/${TENANT}/retention`, {
    method: "PUT",
    key: ADMIN_TOKEN,
    json: { runHotSeconds: 2, archiveSeconds: 4, unpublishedArtifactSeconds: 2 },
  });
  expect(policy.status).toBe(200);

  const ids: string[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await api("/v1/runs", {
      method: "POST",
      key,
      json: { project: "p", blueprint: "microservice", input: { name: `svc-${i}`, resources: ["things"] } },
    });
    expect(res.status).toBe(202);
    ids.push(((await res.json()) as { id: string }).id);
  }
  for (const id of ids) expect((await waitForRun(id, { key })).status).toBe("succeeded");
  const placed = await indexes();
  // Spread: more than one shard indexes runs.
  expect(placed.filter((m) => m.size > 0).length).toBeGreaterThan(1);
  const storage = (await (await api("/v1/usage", { key })).json()) as { storage: { runStateBytes: number } };
  expect(storage.storage.runStateBytes).toBeGreaterThan(0);

  // Each run archives on the shard's retention (2 s, pushed from home) and is marked where it is indexed.
  await until("every archive", async () => {
    const all = (await indexes()).flatMap((m) => [...m.values()]);
    return all.length === ids.length && all.every((at) => at !== null) ? true : null;
  });
  const listed = (await (await api("/v1/runs?limit=100", { key })).json()) as {
    items: { archivedAt: string | null }[];
  };
  expect(listed.items).toHaveLength(ids.length);
  expect(listed.items.every((r) => r.archivedAt !== null)).toBe(true);

  // Deleting one run removes it from whichever shard indexes it.
  const doomed = ids[0] as string;
  expect((await api(`/v1/runs/${doomed}`, { method: "DELETE", key })).status).toBe(204);
  expect((await indexes()).some((m) => m.has(doomed))).toBe(false);

  // Expiry on the shards keeps the artifact keys home's published versions hold.
  const versions = (await (await api("/v1/projects/p/artifacts", { key })).json()) as { items: { name: string }[] };
  const versionCount = versions.items.length;
  expect(versionCount).toBeGreaterThan(0);
  await until("every expiry", async () => ((await indexes()).every((m) => m.size === 0) ? true : null));
  const afterExpiry = (await (await api("/v1/projects/p/artifacts", { key })).json()) as {
    items: { name: string; version: number; status: string; downloadUrl: string }[];
  };
  expect(afterExpiry.items).toHaveLength(versionCount);
  for (const v of afterExpiry.items) {
    expect(v.status).not.toBe("expired");
    const bytes = await api(v.downloadUrl, { key });
    expect(bytes.status, `${v.name} v${v.version} at ${v.downloadUrl}`).toBe(200);
  }

  // A purge empties every shard and the tenant's R2 prefix.
  const purge = await api(`/v1/admin/tenants/${TENANT}`, {
    method: "DELETE",
    key: ADMIN_TOKEN,
    json: { reason: "test", requestedBy: "ops" },
  });
  expect(purge.status).toBeLessThan(300);
  await until("the purge", async () =>
    (await api(`/v1/admin/tenants/${TENANT}`, { key: ADMIN_TOKEN })).status === 404 ? true : null,
  );
  expect((await env.ARTIFACTS.list({ prefix: `tenants/${TENANT}/` })).objects).toEqual([]);
  for (let k = 0; k < SHARDS; k++)
    expect(await tablesIn(env.TENANT.getByName(shardName(TENANT, k))), `shard ${k}`).toEqual([]);
}, 120_000);

/**
 * The race behind a version that answered 404 after expiry (seen once under load): a run's final
 * sync reaches its shard at once and home only with the shard's next settlement (SETTLE_DELAY_MS,
 * longer when home is slow). A sweep of the run's unpublished artifacts in between asked home which
 * keys its versions hold, home did not know them yet, and the shard deleted the bytes of a version
 * home recorded a moment later. The window is set up by hand: the settlement still waiting on the
 * shard, home without the run's versions.
 */
it("a shard does not sweep a run's artifacts while its final sync has not reached home", async () => {
  const key = await newTenantKey(TENANT);
  await api(`/v1/admin/tenants/${TENANT}`, { method: "PATCH", key: ADMIN_TOKEN, json: { limits: { shards: SHARDS } } });
  // Long periods: nothing sweeps on its own during the test.
  await api(`/v1/admin/tenants/${TENANT}/retention`, {
    method: "PUT",
    key: ADMIN_TOKEN,
    json: { runHotSeconds: 3600, archiveSeconds: 7200, unpublishedArtifactSeconds: 3600 },
  });
  // Runs until one is indexed on a shard other than home.
  let found: { runId: string; shard: number } | null = null;
  for (let i = 0; i < 12 && !found; i++) {
    const res = await api("/v1/runs", {
      method: "POST",
      key,
      json: { project: "p", blueprint: "microservice", input: { name: `svc-${i}`, resources: ["things"] } },
    });
    const { id } = (await res.json()) as { id: string };
    expect((await waitForRun(id, { key, timeoutMs: 60_000 })).status).toBe("succeeded");
    const shard = (await indexes()).findIndex((m) => m.has(id));
    if (shard > 0) found = { runId: id, shard };
  }
  if (!found) throw new Error("no run was indexed on a shard other than home");
  const { runId, shard } = found;
  const home = env.TENANT.getByName(TENANT);
  const shardObject = env.TENANT.getByName(shardName(TENANT, shard));
  // Home has the run's versions once the shard has settled it.
  const held = await until(
    "the run's versions at home",
    async () => {
      const keys = await runInDurableObject(home, (_o, state) =>
        state.storage.sql
          .exec<{ r2_key: string }>("SELECT r2_key FROM artifact_version WHERE run_id = ?", runId)
          .toArray()
          .map((r) => r.r2_key),
      );
      return keys.length > 0 ? keys : null;
    },
    60_000,
  );

  // The window: the final sync waits on the shard (not due for an hour), home has no version of the run yet.
  const versions = await runInDurableObject(home, (_o, state) => {
    const rows = state.storage.sql.exec("SELECT * FROM artifact_version WHERE run_id = ?", runId).toArray();
    state.storage.sql.exec("DELETE FROM artifact_version WHERE run_id = ?", runId);
    return rows;
  });
  const sweep = await runInDurableObject(shardObject, async (instance, state) => {
    state.storage.sql.exec(
      "INSERT INTO settlement (run_id, sync, at) VALUES (?, ?, ?) ON CONFLICT (run_id) DO NOTHING",
      runId,
      JSON.stringify({ runId }),
      Date.now() + 3_600_000,
    );
    state.storage.sql.exec("UPDATE run_index SET unpublished_due = ? WHERE run_id = ?", Date.now() - 1, runId);
    const upkeep = (instance as unknown as { c: { upkeep: { lifecycle: { sweep(now: number): Promise<unknown> } } } }).c
      .upkeep;
    await upkeep.lifecycle.sweep(Date.now());
    const due = state.storage.sql
      .exec<{ due: number | null }>("SELECT unpublished_due AS due FROM run_index WHERE run_id = ?", runId)
      .one().due;
    state.storage.sql.exec("DELETE FROM settlement WHERE run_id = ?", runId);
    return { due };
  });
  // Deferred, and every byte a version will hold is still there.
  for (const k of held) expect(await env.ARTIFACTS.head(k), k).not.toBeNull();
  expect(sweep.due).toBeGreaterThan(Date.now());
  expect(versions.length).toBe(held.length);
}, 180_000);
