import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { strFromU8, unzipSync } from "fflate";
import { afterEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/lib/crypto";
import { api, createRun, events as runEvents, waitForRun } from "../support/api";

afterEach(() => reset());

describe("the microservice blueprint", () => {
  it("produces a zip of a real TypeScript service, stored in R2 under the tenant's prefix", async () => {
    const run = await createRun({
      project: "billing",
      blueprint: "microservice",
      input: { name: "billing-api", resources: ["invoices"] },
    });
    expect(run.steps.map((s) => [s.id, s.pool, s.dependsOn])).toEqual([
      ["plan", "repo", []],
      ["scaffold", "repo", ["plan"]],
      ["pipeline", "pipeline", ["plan"]],
      ["azure", "pipeline", ["plan"]],
      ["docs", "repo", ["plan"]],
      ["package", "repo", ["scaffold", "pipeline", "azure", "docs"]],
    ]);
    const done = await waitForRun(run.id);
    expect(done.status).toBe("succeeded");

    const manifest = (await (await api(`/v1/runs/${run.id}/artifacts`)).json()) as {
      items: { name: string; size: number; contentType: string; sha256: string; stepId: string }[];
    };
    expect(manifest.items).toHaveLength(1);
    const entry = manifest.items[0]!;
    expect(entry).toMatchObject({ name: "billing-api.zip", contentType: "application/zip", stepId: "package" });

    const res = await api(`/v1/runs/${run.id}/artifacts/billing-api.zip`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/zip");
    expect(res.headers.get("x-content-sha256")).toBe(entry.sha256);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.byteLength).toBe(entry.size);
    expect(await sha256Hex(bytes)).toBe(entry.sha256);

    const files = unzipSync(bytes);
    expect(Object.keys(files).sort()).toEqual(
      [
        ".github/workflows/ci.yml",
        ".gitignore",
        "README.md",
        "azure-pipelines.yml",
        "package.json",
        "src/app.ts",
        "src/server.ts",
        "test/app.test.ts",
        "tsconfig.json",
      ].map((p) => `billing-api/${p}`),
    );
    const pkg = JSON.parse(strFromU8(files["billing-api/package.json"]!)) as {
      name: string;
      scripts: Record<string, string>;
    };
    expect(pkg.name).toBe("billing-api");
    expect(pkg.scripts.test).toContain("node --test");
    expect(strFromU8(files["billing-api/src/app.ts"]!)).toContain('"invoices"');

    const stored = await env.ARTIFACTS.list({ prefix: "tenants/dev/" });
    expect(stored.objects.map((o) => o.key)).toEqual([`tenants/dev/runs/${run.id}/steps/package/1/billing-api.zip`]);
  });

  it("an artifact name that tries to escape is a 404, not a path", async () => {
    const run = await createRun({ project: "p", steps: [{ id: "a", type: "system.echo", input: {} }] });
    await waitForRun(run.id);
    for (const name of ["..", "..%2F..%2Fsecret", "%2e%2e", "a%00b", ".hidden"]) {
      const res = await api(`/v1/runs/${run.id}/artifacts/${name}`);
      expect(res.status, name).toBe(404);
    }
  });
});

describe("dynamic fan-out", () => {
  it("a microservice whose planner spawns 200 module steps succeeds, and its zip holds every module", async () => {
    const run = await createRun({
      project: "big",
      blueprint: "microservice",
      input: { name: "big-api", modules: 200 },
    });
    const done = await waitForRun(run.id, { timeoutMs: 60_000 });
    // On a failure, the message names what failed and how (it once ended failed under load in CI).
    const failed = done.steps.filter((s) => s.status === "failed").map((s) => [s.id, s.error?.code, s.error?.message]);
    const log = await runEvents(run.id);
    const expired = log.filter((e) => e.type === "step.lease_expired").length;
    expect(done.status, `failed steps ${JSON.stringify(failed.slice(0, 5))}; ${expired} leases expired`).toBe(
      "succeeded",
    );
    expect(done.steps).toHaveLength(206);
    const modules = done.steps.filter((s) => s.type === "repo.module");
    expect(modules).toHaveLength(200);
    expect(modules.every((s) => s.status === "succeeded" && s.dependsOn.includes("plan"))).toBe(true);
    // Fan-in: what waited for the planner waited for every module too.
    const scaffold = done.steps.find((s) => s.id === "scaffold")!;
    expect(scaffold.dependsOn).toHaveLength(201);
    expect(Date.parse(scaffold.startedAt!)).toBeGreaterThanOrEqual(
      Math.max(...modules.map((m) => Date.parse(m.finishedAt!))),
    );

    const zip = unzipSync(new Uint8Array(await (await api(`/v1/runs/${run.id}/artifacts/big-api.zip`)).arrayBuffer()));
    expect(Object.keys(zip).filter((p) => p.startsWith("big-api/src/modules/"))).toHaveLength(200);
    const events = (
      (await (await api(`/v1/runs/${run.id}/events?limit=1000`)).json()) as {
        items: { type: string; data: { count?: number; message?: string } }[];
      }
    ).items;
    expect(events.find((e) => e.type === "step.spawned")?.data.count).toBe(200);
    expect(events.find((e) => e.type === "step.log")?.data.message).toBe("planned");
  }, 90_000);
});

describe("the pipeline blueprint", () => {
  it("zips a GitHub Actions workflow and an Azure Pipelines definition", async () => {
    const run = await waitForRun(
      (await createRun({ project: "ci", blueprint: "pipeline", input: { name: "ci-api", nodeVersion: 22 } })).id,
    );
    expect(run.status).toBe("succeeded");
    const zip = unzipSync(new Uint8Array(await (await api(`/v1/runs/${run.id}/artifacts/ci-api.zip`)).arrayBuffer()));
    expect(Object.keys(zip).sort()).toEqual([
      "ci-api/.github/workflows/ci.yml",
      "ci-api/azure-pipelines.yml",
      "ci-api/package.json",
      "ci-api/test/pipelines.test.mjs",
    ]);
    expect(strFromU8(zip["ci-api/azure-pipelines.yml"]!)).toContain('versionSpec: "22.x"');
  });
});
