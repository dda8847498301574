/**
 * A run's whole lifetime under a shortened retention, through the public API only: hot, archived by
 * its own alarm (same answers, an empty object), then gone when its archive expires (the tenant's
 * alarm). The tests' minimum period is 2 s (RETENTION_MIN_SECONDS in vitest.config.ts).
 */
import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, expect, it } from "vitest";
import type { RunView } from "../../schema/api";
import { archiveKey, runPrefix } from "../../src/artifacts/keys";
import { ADMIN_TOKEN, api, createRun, newTenantKey, waitForRun } from "../support/api";
import { tablesIn, until } from "../support/storage";

afterEach(() => reset());

const TENANT = "lifetime";

const tablesOf = (runId: string) => tablesIn(env.RUN.getByName(runId));

it("a run under a shortened retention is archived with the same answers, then deleted when its archive expires", async () => {
  const key = await newTenantKey(TENANT);
  const policy = await api(`/v1/admin/tenants/${TENANT}/retention`, {
    method: "PUT",
    key: ADMIN_TOKEN,
    json: { runHotSeconds: 2, archiveSeconds: 3 },
  });
  expect(policy.status).toBe(200);

  const created = await createRun(
    { project: "p", blueprint: "microservice", input: { name: "short-lived", resources: ["things"] } },
    key,
  );
  expect((await waitForRun(created.id, { key })).status).toBe("succeeded");
  const read = async (path: string) => {
    const res = await api(path, { key });
    return { status: res.status, body: res.status === 200 ? await res.json() : null };
  };
  const paths = [
    `/v1/runs/${created.id}`,
    `/v1/runs/${created.id}/events?limit=1000`,
    `/v1/runs/${created.id}/usage`,
    `/v1/runs/${created.id}/artifacts`,
  ];
  const hot = await Promise.all(paths.map(read));
  const hotList = (await read("/v1/runs")).body as { items: { id: string; archivedAt: string | null }[] };
  expect(hotList.items.find((r) => r.id === created.id)?.archivedAt).toBeNull();
  const artifact = (hot[3]?.body as { items: { name: string; sha256: string }[] } | undefined)?.items[0];
  expect(artifact).toBeDefined();

  // Archived by the run's own alarm about 2 s after it finished.
  const archived = await until("the archive", async () => {
    const run = (await read(paths[0] as string)).body as RunView & { archivedAt: string | null };
    return run.archivedAt ? run : null;
  });
  expect(await tablesOf(created.id)).toEqual([]);
  expect(await env.ARTIFACTS.head(archiveKey(TENANT, created.id))).not.toBeNull();
  const cold = await Promise.all(paths.map(read));
  // Field by field the same, the run marked archived.
  expect(cold[0]?.body).toEqual({ ...(hot[0]?.body as object), archivedAt: archived.archivedAt });
  expect(cold.slice(1)).toEqual(hot.slice(1));
  const download = await api(`/v1/runs/${created.id}/artifacts/${artifact?.name}`, { key });
  expect(download.status).toBe(200);
  expect(download.headers.get("x-content-sha256")).toBe(artifact?.sha256);
  const coldList = (await read("/v1/runs")).body as { items: { id: string; archivedAt: string | null }[] };
  expect(coldList.items.find((r) => r.id === created.id)?.archivedAt).toBe(archived.archivedAt);
  expect((await api(`/v1/runs/${created.id}/cancel`, { method: "POST", key })).status).toBe(409);

  // Gone about 3 s after its archival: the archive, the index row, every read.
  await until("the expiry", async () => ((await read(paths[0] as string)).status === 404 ? true : null));
  expect((await read("/v1/runs")).body).toMatchObject({ items: [] });
  expect(await env.ARTIFACTS.head(archiveKey(TENANT, created.id))).toBeNull();
  for (const path of paths.slice(1)) expect((await read(path)).status).toBe(404);
  // What remains under the run's prefix is what the published version still holds, and nothing else.
  const left = (await env.ARTIFACTS.list({ prefix: runPrefix(TENANT, created.id) })).objects.map((o) => o.key);
  const versions = (await read(`/v1/projects/p/artifacts`)).body as { items: { name: string }[] } | null;
  expect(left.length).toBeLessThanOrEqual(versions?.items.length ?? 0);
  expect(await tablesOf(created.id)).toEqual([]);
}, 40_000);
