/**
 * Published artifacts across runs: versions per (tenant, project, name) assigned when a run
 * succeeds, identical bytes deduplicated, concurrent runs kept distinct, projects and tenants
 * kept apart, lineage on every version, and a diff of two zip versions by file name and size.
 */
import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { api, createRun, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

type Version = {
  project: string;
  name: string;
  version: number;
  status: string;
  sha256: string;
  republished: number;
  downloadUrl: string;
  lineage: {
    runId: string;
    stepId: string;
    jobType: string;
    blueprint: string | null;
    traceId: string;
    inputSha256: string | null;
    upstream: { name: string }[];
  };
};

async function microservice(project: string, resources: string[], key?: string) {
  const run = await createRun({ project, blueprint: "microservice", input: { name: "svc", resources } }, key);
  const done = await waitForRun(run.id, key ? { key } : {});
  expect(done.status).toBe("succeeded");
  return done;
}

async function versions(project: string, query = "", key?: string) {
  const res = await api(`/v1/projects/${project}/artifacts/svc.zip/versions${query}`, key ? { key } : {});
  return { status: res.status, body: (await res.json()) as { items: Version[]; nextCursor: string | null } };
}

/** The tenant's object records a run's publication right after the run ends: wait for it. */
async function untilVersions(project: string, n: number, key?: string) {
  for (let i = 0; i < 200; i++) {
    const { status, body } = await versions(project, "?limit=100", key);
    if (status === 200 && body.items.length >= n) return body.items;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`fewer than ${n} versions of svc.zip in ${project}`);
}

describe("artifact versions", () => {
  it("a clean run publishes version 1, a changed one version 2, identical bytes stay version 2", async () => {
    const first = await microservice("vers", ["invoices"]);
    const [v1] = await untilVersions("vers", 1);
    expect(v1).toMatchObject({ version: 1, status: "published", republished: 0 });
    expect(v1!.downloadUrl).toBe("/v1/projects/vers/artifacts/svc.zip/versions/1/content");
    // The version's bytes are the run's artifact's, served by the version (they outlive the run).
    const fromVersion = await api(v1!.downloadUrl);
    const fromRun = await api(`/v1/runs/${first.id}/artifacts/svc.zip`);
    expect(fromVersion.status).toBe(200);
    expect(fromVersion.headers.get("x-content-sha256")).toBe(fromRun.headers.get("x-content-sha256"));
    expect(new Uint8Array(await fromVersion.arrayBuffer())).toEqual(new Uint8Array(await fromRun.arrayBuffer()));
    expect(v1!.lineage).toMatchObject({
      runId: first.id,
      stepId: "package",
      jobType: "repo.package",
      blueprint: "microservice",
      traceId: first.traceId,
    });
    expect(v1!.lineage.inputSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(v1!.lineage.upstream).toEqual([]); // the package step's upstream steps write files, not artifacts
    // The run's own artifact list carries the same lineage.
    const listed = (await (await api(`/v1/runs/${first.id}/artifacts`)).json()) as { items: Version[] };
    expect(listed.items[0]!.lineage).toEqual(v1!.lineage);

    await microservice("vers", ["invoices", "customers"]);
    const two = await untilVersions("vers", 2);
    expect(two.map((v) => [v.version, v.status])).toEqual([
      [2, "published"],
      [1, "superseded"],
    ]);
    await microservice("vers", ["invoices", "customers"]);
    await new Promise((r) => setTimeout(r, 300));
    const still = (await versions("vers")).body.items;
    expect(still.map((v) => v.version)).toEqual([2, 1]);
    await expect.poll(async () => (await versions("vers")).body.items[0]!.republished).toBe(1);

    const latest = (await (await api("/v1/projects/vers/artifacts")).json()) as { items: Version[] };
    expect(latest.items.map((v) => [v.name, v.version])).toEqual([["svc.zip", 2]]);
    expect((await api(latest.items[0]!.downloadUrl)).status).toBe(200);

    const diff = await api("/v1/projects/vers/artifacts/svc.zip/versions/2/diff?against=1");
    expect(diff.status).toBe(200);
    const d = (await diff.json()) as {
      added: { path: string }[];
      removed: unknown[];
      changed: { path: string; sizeFrom: number; sizeTo: number }[];
      unchanged: number;
    };
    expect(d.removed).toEqual([]);
    expect(d.changed.map((c) => c.path)).toContain("svc/src/app.ts");
    expect(d.changed.every((c) => c.sizeTo > 0 && c.sizeFrom > 0)).toBe(true);
    expect(d.unchanged).toBeGreaterThan(0);
    expect(JSON.stringify(d)).not.toContain("export "); // names and sizes, not contents
  }, 60_000);

  it("two runs publishing the same name at once get distinct versions; projects and tenants stay apart", async () => {
    await Promise.all([microservice("race", ["alpha"]), microservice("race", ["beta"])]);
    const raced = await untilVersions("race", 2);
    expect(raced.map((v) => v.version).sort()).toEqual([1, 2]);
    expect(new Set(raced.map((v) => v.lineage.runId)).size).toBe(2);

    await microservice("race-other", ["alpha"]);
    expect((await untilVersions("race-other", 1)).map((v) => v.version)).toEqual([1]);

    const other = await newTenantKey("versions-other");
    expect((await versions("race", "", other)).status).toBe(404);
    const theirs = (await (await api("/v1/projects/race/artifacts", { key: other })).json()) as { items: unknown[] };
    expect(theirs.items).toEqual([]);
    await microservice("race", ["zeta"], other);
    expect((await untilVersions("race", 1, other)).map((v) => v.version)).toEqual([1]);
    expect((await versions("race")).body.items.map((v) => v.version)).toEqual([2, 1]);
  }, 60_000);

  it("pages with a cursor; bad input is a problem with a stable code", async () => {
    for (const r of ["alpha", "beta", "gamma"]) await microservice("paged", [r]);
    await untilVersions("paged", 3);
    const first = await versions("paged", "?limit=2");
    expect(first.body.items.map((v) => v.version)).toEqual([3, 2]);
    const second = await versions("paged", `?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((v) => v.version)).toEqual([1]);
    expect(second.body.nextCursor).toBeNull();

    const code = async (path: string) => {
      const res = await api(path);
      return [res.status, ((await res.json()) as { code: string }).code];
    };
    expect(await code("/v1/projects/paged/artifacts/svc.zip/versions?cursor=bogus")).toEqual([400, "request.invalid"]);
    expect(await code("/v1/projects/paged/artifacts/nope.zip/versions")).toEqual([404, "artifact.not_found"]);
    expect(await code("/v1/projects/paged/artifacts/svc.zip/versions/9/diff?against=1")).toEqual([
      404,
      "artifact.not_found",
    ]);
    expect(await code("/v1/projects/paged/artifacts/svc.zip/versions/2/diff")).toEqual([400, "request.invalid"]);
    expect(await code("/v1/projects/..%2Fx/artifacts")).toEqual([400, "request.invalid"]);
  }, 60_000);
});
