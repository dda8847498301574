import { readFileSync, writeFileSync } from "node:fs";
import { expect, it } from "vitest";
import { createApp, OPENAPI_INFO } from "../../src/api/app";

const PATH = new URL("../../schema/openapi.json", import.meta.url);

it("schema/openapi.json is the document the API generates (UPDATE_OPENAPI=1 rewrites it)", () => {
  const generated = `${JSON.stringify(createApp().getOpenAPI31Document(OPENAPI_INFO), null, 2)}\n`;
  if (process.env.UPDATE_OPENAPI === "1") writeFileSync(PATH, generated);
  expect(readFileSync(PATH, "utf8"), "run `npm run openapi` to regenerate").toBe(generated);
  const doc = JSON.parse(generated) as { paths: Record<string, unknown> };
  expect(Object.keys(doc.paths)).toEqual(
    expect.arrayContaining(["/v1/runs", "/v1/runs/{id}", "/v1/runs/{id}/artifacts/{name}", "/healthz"]),
  );
});

it("names every operation with a unique camelCase operationId, and says which are public", () => {
  const doc = JSON.parse(JSON.stringify(createApp().getOpenAPI31Document(OPENAPI_INFO))) as {
    servers?: { url: string }[];
    paths: Record<string, Record<string, { operationId?: string; security?: unknown[] }>>;
  };
  const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ at: `${method.toUpperCase()} ${path}`, ...op })),
  );
  const ids = operations.map((o) => o.operationId);
  expect(ids.filter((id) => !/^[a-z][a-zA-Z]+$/.test(id ?? ""))).toEqual([]);
  expect(new Set(ids).size).toBe(ids.length);
  expect(doc.servers?.length).toBeGreaterThan(0);
  // Every operation names its security; the public ones name none (and nothing else is public).
  expect(operations.filter((o) => o.security === undefined).map((o) => o.at)).toEqual([]);
  expect(operations.filter((o) => o.security?.length === 0).map((o) => o.at)).toEqual([
    "GET /healthz",
    "GET /v1/decisions/{token}",
    "POST /v1/decisions/{token}",
    "POST /v1/callbacks/{token}",
  ]);
});
