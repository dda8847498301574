import { listDurableObjectIds } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, api } from "../support/api";

interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  errors?: { path: string; message: string }[];
}

async function expectProblem(res: Response, status: number, code: string): Promise<Problem> {
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = (await res.json()) as Problem;
  expect({ status: res.status, code: body.code }).toEqual({ status, code });
  expect(body.status).toBe(status);
  expect(body.title.length).toBeGreaterThan(0);
  expect(JSON.stringify(body)).not.toMatch(/ZodError|\bat .*\.ts:\d+/); // no raw validator output, no stack
  return body;
}

const post = (body: string | undefined, headers: Record<string, string> = { "content-type": "application/json" }) =>
  api("/v1/runs", { method: "POST", body, headers });

const echo = (id: string, dependsOn: string[] = []) => ({ id, type: "system.echo", input: {}, dependsOn });

const cases: [name: string, send: () => Promise<Response>, status: number, code: string][] = [
  ["malformed JSON", () => post('{"project": '), 400, "request.malformed_json"],
  ["an empty body", () => post(""), 400, "request.malformed_json"],
  ["a body that is not an object", () => post("[1,2]"), 400, "request.invalid"],
  [
    "a missing project",
    () => post(JSON.stringify({ blueprint: "microservice", input: { name: "x-api" } })),
    400,
    "request.invalid",
  ],
  [
    "both blueprint and steps",
    () => post(JSON.stringify({ project: "p", blueprint: "microservice", steps: [echo("a")] })),
    400,
    "request.invalid",
  ],
  [
    "an unknown field",
    () => post(JSON.stringify({ project: "p", steps: [echo("a")], colour: "red" })),
    400,
    "request.invalid",
  ],
  [
    "an unknown blueprint",
    () => post(JSON.stringify({ project: "p", blueprint: "spaceship", input: {} })),
    422,
    "blueprint.not_found",
  ],
  [
    "blueprint input that does not fit",
    () => post(JSON.stringify({ project: "p", blueprint: "microservice", input: { name: "Not A Slug" } })),
    422,
    "blueprint.invalid_input",
  ],
  [
    "an unknown step type",
    () => post(JSON.stringify({ project: "p", steps: [{ id: "a", type: "system.teleport" }] })),
    422,
    "step.unknown_type",
  ],
  [
    "duplicate step ids",
    () => post(JSON.stringify({ project: "p", steps: [echo("a"), echo("a")] })),
    422,
    "run.invalid_graph",
  ],
  [
    "a dependsOn naming a missing step",
    () => post(JSON.stringify({ project: "p", steps: [echo("a", ["ghost"])] })),
    422,
    "run.invalid_graph",
  ],
  [
    "a cycle",
    () => post(JSON.stringify({ project: "p", steps: [echo("a", ["c"]), echo("b", ["a"]), echo("c", ["b"])] })),
    422,
    "run.invalid_graph",
  ],
  [
    "a step input that does not fit its type",
    () => post(JSON.stringify({ project: "p", steps: [{ id: "a", type: "system.sleep", input: { ms: -5 } }] })),
    422,
    "step.invalid_input",
  ],
  [
    "a body over 1 MiB",
    () => post(JSON.stringify({ project: "p", steps: [{ ...echo("a"), input: { pad: "x".repeat(1024 * 1024) } }] })),
    413,
    "request.too_large",
  ],
  [
    "a step id with a slash",
    () => post(JSON.stringify({ project: "p", steps: [echo("../a")] })),
    400,
    "request.invalid",
  ],
  [
    "a body that is not JSON",
    () => post("project=p", { "content-type": "application/x-www-form-urlencoded" }),
    415,
    "request.unsupported_media_type",
  ],
  [
    "a JSON body without a content type",
    () => post(JSON.stringify({ project: "p", steps: [echo("a")] }), {}),
    415,
    "request.unsupported_media_type",
  ],
  [
    "JSON nested too deep",
    () =>
      post(
        JSON.stringify({
          project: "p",
          steps: [{ ...echo("a"), input: { x: JSON.parse("[".repeat(40) + "]".repeat(40)) } }],
        }),
      ),
    400,
    "request.too_deep",
  ],
  [
    "an oversized string field",
    () => post(JSON.stringify({ project: "p".repeat(65), steps: [echo("a")] })),
    400,
    "request.invalid",
  ],
  [
    "too many steps",
    () => post(JSON.stringify({ project: "p", steps: Array.from({ length: 1001 }, (_, i) => echo(`s${i}`)) })),
    400,
    "request.invalid",
  ],
  [
    "an unknown priority",
    () => post(JSON.stringify({ project: "p", priority: "urgent", steps: [echo("a")] })),
    400,
    "request.invalid",
  ],
  // User data is kept exactly as sent or refused: a copy of an own `__proto__` key would drop it.
  [
    "a `__proto__` key inside a step's input",
    () => post('{"project":"p","steps":[{"id":"a","type":"system.echo","input":{"__proto__":{"x":1},"y":2}}]}'),
    400,
    "request.invalid",
  ],
  [
    "a `__proto__` key at the top",
    () => post('{"__proto__":{"admin":true},"project":"p","steps":[{"id":"a","type":"system.echo"}]}'),
    400,
    "request.invalid",
  ],
  ...["\u0001", "\u001b[31m", "\u007f", "\u0008"].map((ctl): (typeof cases)[number] => [
    `an Idempotency-Key holding ${JSON.stringify(ctl)}`,
    () =>
      post(JSON.stringify({ project: "p", steps: [echo("a")] }), {
        "content-type": "application/json",
        "idempotency-key": `k${ctl}1`,
      }),
    400,
    "request.invalid",
  ]),
  [
    "a traceparent holding a control character",
    () =>
      post(JSON.stringify({ project: "p", steps: [echo("a")] }), {
        "content-type": "application/json",
        traceparent: "00-\u0001",
      }),
    400,
    "request.invalid",
  ],
  [
    "an Idempotency-Key over 200 characters",
    () =>
      post(JSON.stringify({ project: "p", steps: [echo("a")] }), {
        "content-type": "application/json",
        "idempotency-key": "k".repeat(201),
      }),
    400,
    "request.invalid",
  ],
];

describe("bad input gets a problem and creates nothing", () => {
  it.each(cases)("%s", async (_name, send, status, code) => {
    const res = await send();
    await expectProblem(res, status, code);
    // Nothing was created: no run object, no tenant index entry, no artifact.
    expect(await listDurableObjectIds(env.RUN)).toEqual([]);
    const list = (await (await api("/v1/runs")).json()) as { items: unknown[] };
    expect(list.items).toEqual([]);
    expect((await env.ARTIFACTS.list()).objects).toEqual([]);
  });

  it("names the offending field of a graph error", async () => {
    const body = await expectProblem(
      await post(JSON.stringify({ project: "p", steps: [echo("a"), echo("a")] })),
      422,
      "run.invalid_graph",
    );
    expect(body.errors).toEqual([{ path: "steps[1].id", message: "duplicate step id 'a'" }]);
  });

  it("reports the cycle it found", async () => {
    const body = await expectProblem(
      await post(JSON.stringify({ project: "p", steps: [echo("a", ["b"]), echo("b", ["a"])] })),
      422,
      "run.invalid_graph",
    );
    expect(body.errors?.[0]?.message).toMatch(/cycle: (a → b → a|b → a → b)/);
  });
});

describe("authentication", () => {
  it.each([
    ["no key", null],
    ["a malformed key", "not-a-key"],
    ["a well-formed key that does not exist", "frk_dev_aaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
    [
      "a wrong secret for the dev key id",
      `${env.DEV_API_KEY!.slice(0, -1)}${env.DEV_API_KEY!.endsWith("a") ? "b" : "a"}`,
    ],
    ["an unknown tenant", "frk_nobody_aaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
  ])("%s is 401", async (_name, key) => {
    const res = await api("/v1/runs", { method: "POST", key, json: { project: "p", steps: [echo("a")] } });
    await expectProblem(res, 401, "auth.unauthenticated");
    expect(await listDurableObjectIds(env.RUN)).toEqual([]);
  });

  it("a key that would be born expired is refused and not created", async () => {
    const admin = (path: string, init: RequestInit & { json?: unknown } = {}) =>
      api(`/v1/admin${path}`, { ...init, key: ADMIN_TOKEN });
    expect((await admin("/tenants", { method: "POST", json: { id: "acme", name: "Acme" } })).status).toBe(201);
    const res = await admin("/tenants/acme/keys", {
      method: "POST",
      json: { expiresAt: new Date(Date.now() - 1_000).toISOString() },
    });
    const body = await expectProblem(res, 400, "request.invalid");
    expect(body.errors).toEqual([
      expect.objectContaining({ path: "expiresAt", message: expect.stringContaining("future") }),
    ]);
    expect(((await (await admin("/tenants/acme/keys")).json()) as { items: unknown[] }).items).toEqual([]);
  });

  it("a key's scopes are kept once each, in the catalog's order", async () => {
    const admin = (path: string, init: RequestInit & { json?: unknown } = {}) =>
      api(`/v1/admin${path}`, { ...init, key: ADMIN_TOKEN });
    expect((await admin("/tenants", { method: "POST", json: { id: "scoped", name: "Scoped" } })).status).toBe(201);
    const res = await admin("/tenants/scoped/keys", {
      method: "POST",
      json: { scopes: ["approvals:grant", "runs:read", "runs:read", "approvals:grant"] },
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { scopes: string[] }).scopes).toEqual(["runs:read", "approvals:grant"]);
    const listed = (await (await admin("/tenants/scoped/keys")).json()) as { items: { scopes: string[] }[] };
    expect(listed.items.map((k) => k.scopes)).toEqual([["runs:read", "approvals:grant"]]);
  });

  it("admin routes refuse a tenant key", async () => {
    const res = await api("/v1/admin/tenants/acme/keys", { method: "POST", json: {} });
    await expectProblem(res, 401, "auth.unauthenticated");
  });
});

describe("public routes", () => {
  it("GET /healthz needs no key", async () => {
    const res = await api("/healthz", { key: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("GET /openapi.json describes the API", async () => {
    const doc = (await (await api("/openapi.json", { key: null })).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toContain("/v1/runs/{id}/events");
  });

  it("GET /v1/blueprints lists microservice with its input schema", async () => {
    const body = (await (await api("/v1/blueprints")).json()) as {
      items: { name: string; input: { properties: Record<string, unknown> } }[];
    };
    const microservice = body.items.find((b) => b.name === "microservice");
    expect(microservice?.input.properties).toHaveProperty("name");
  });

  it("an unknown route is a 404 problem", async () => {
    await expectProblem(await api("/v1/nothing-here"), 404, "route.not_found");
  });

  it("a malformed run id is 404, like a missing run", async () => {
    await expectProblem(await api("/v1/runs/not-a-run-id"), 404, "run.not_found");
    await expectProblem(await api("/v1/runs/run_00000000000000000000000000"), 404, "run.not_found");
    await expectProblem(await api("/v1/runs/run_00000000000000000000000000/events"), 404, "run.not_found");
  });
});
