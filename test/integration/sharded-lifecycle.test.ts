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
}, 60_000);
