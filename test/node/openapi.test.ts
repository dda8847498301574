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
