import { readFileSync } from "node:fs";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import { CLIENT_ROUTES, FactoryApiError, FactoryClient, type CreateRunInput, type RunView } from "../../client/index";
import type { CreateRunBody, RunView as RunViewSchema } from "../../schema/api";

const openapi = JSON.parse(readFileSync(new URL("../../schema/openapi.json", import.meta.url), "utf8")) as {
  paths: Record<string, Record<string, unknown>>;
};

describe("the typed client", () => {
  it("calls only routes that the OpenAPI document has", () => {
    for (const [method, path] of CLIENT_ROUTES)
      expect(openapi.paths[path]?.[method], `${method} ${path}`).toBeDefined();
  });

  it("takes and returns exactly the API's schema types", () => {
    expectTypeOf<CreateRunInput>().toEqualTypeOf<z.input<typeof CreateRunBody>>();
    expectTypeOf<RunView>().toEqualTypeOf<z.infer<typeof RunViewSchema>>();
    expectTypeOf<FactoryClient["getRun"]>().returns.resolves.toEqualTypeOf<z.infer<typeof RunViewSchema>>();
  });

  it("retries 429 and 5xx, honouring Retry-After, with one Idempotency-Key for every try", async () => {
    const seen: { key: string | null; at: number }[] = [];
    const answers = [
      new Response("{}", { status: 503 }),
      new Response(JSON.stringify({ code: "rate.limited", title: "slow down", status: 429, type: "x" }), {
        status: 429,
        headers: { "retry-after": "1" },
      }),
      new Response(JSON.stringify({ id: "run_x" }), { status: 202 }),
    ];
    const client = new FactoryClient({
      baseUrl: "http://runtime.test/",
      apiKey: "k",
      fetch: async (_url, init) => {
        seen.push({ key: new Headers(init?.headers).get("idempotency-key"), at: Date.now() });
        return answers.shift()!;
      },
    });
    const run = await client.createRun({ project: "p", blueprint: "microservice", input: { name: "x-api" } });
    expect(run.id).toBe("run_x");
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((s) => s.key)).size).toBe(1);
    expect(seen[0]!.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[2]!.at - seen[1]!.at).toBeGreaterThanOrEqual(950); // Retry-After: 1
  });

  it("turns a 4xx problem into a FactoryApiError with its code, without retrying", async () => {
    let calls = 0;
    const client = new FactoryClient({
      baseUrl: "http://runtime.test",
      apiKey: "k",
      fetch: async () => {
        calls++;
        return new Response(JSON.stringify({ type: "x", title: "No such run.", status: 404, code: "run.not_found" }), {
          status: 404,
        });
      },
    });
    const err = await client.getRun("run_x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FactoryApiError);
    expect(err).toMatchObject({ status: 404, code: "run.not_found" });
    expect(calls).toBe(1);
  });

  it("reports a tenant purge under way from the tenant, and a finished one from its audit record", async () => {
    const audit = {
      tenantId: "t1",
      reason: "left",
      requestedBy: "ops",
      requestedAt: "2026-01-01T00:00:00.000Z",
      finishedAt: "2026-01-01T00:01:00.000Z",
      counts: { runs: 3, activeRunsCancelled: 1, r2Keys: 9, webhooks: 1, keys: 2 },
    };
    const progress = { phase: "objects", counts: { runs: 3 } };
    let purged = false;
    const calls: string[] = [];
    const client = new FactoryClient({
      baseUrl: "http://runtime.test",
      apiKey: "admin",
      fetch: async (url, init) => {
        const path = new URL(String(url)).pathname;
        calls.push(`${init?.method} ${path}`);
        if (path.endsWith("/purges"))
          return Response.json({ items: purged ? [audit] : [{ ...audit, finishedAt: null, counts: null }] });
        return purged
          ? Response.json(
              { type: "x", title: "No such tenant.", status: 404, code: "tenant.not_found" },
              { status: 404 },
            )
          : Response.json({ id: "t1", purge: progress });
      },
    });
    expect(await client.tenantPurge("t1")).toMatchObject({ underWay: progress, audit: { finishedAt: null } });
    purged = true;
    expect(await client.tenantPurge("t1")).toEqual({ underWay: null, audit });
    expect(calls).toEqual([
      "GET /v1/admin/tenants/t1",
      "GET /v1/admin/tenants/t1/purges",
      "GET /v1/admin/tenants/t1",
      "GET /v1/admin/tenants/t1/purges",
    ]);
  });

  it("deletes a run with DELETE, and a refusal (an active run) is its problem's code", async () => {
    const seen: string[] = [];
    const answers = [
      new Response(null, { status: 204 }),
      new Response(JSON.stringify({ type: "x", title: "active", status: 409, code: "run.active" }), { status: 409 }),
    ];
    const client = new FactoryClient({
      baseUrl: "http://runtime.test",
      apiKey: "k",
      fetch: async (url, init) => {
        seen.push(`${init?.method} ${String(url)}`);
        return answers.shift()!;
      },
    });
    await expect(client.deleteRun("run_x")).resolves.toBeUndefined();
    await expect(client.deleteRun("run_y")).rejects.toMatchObject({ status: 409, code: "run.active" });
    expect(seen).toEqual(["DELETE http://runtime.test/v1/runs/run_x", "DELETE http://runtime.test/v1/runs/run_y"]);
  });
});
