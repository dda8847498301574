import { describe, expect, it } from "vitest";
import { mismatches, schemaProblems } from "../../src/lib/json-schema";

describe("JSON Schema (draft-07, @cfworker/json-schema in workerd)", () => {
  it("refuses schemas that are not JSON Schema, with the validator's reason and the path", () => {
    const bad = schemaProblems({ type: "object", properties: { a: { type: "strin" } } }, "input");
    expect(bad.length).toBeGreaterThan(0);
    expect(bad[0]?.path.startsWith("input")).toBe(true);
    expect(schemaProblems({ type: "object", required: "a" }, "input")[0]?.path).toBe("input.required");
    expect(schemaProblems({ type: "object", properties: { a: { pattern: "(" } } }, "output").length).toBeGreaterThan(0);
    expect(schemaProblems({ $ref: "https://example.com/s.json" }, "input")[0]?.message).toContain("local $refs");
    expect(schemaProblems([1], "input").length).toBeGreaterThan(0);
  });

  it("accepts ordinary schemas", () => {
    expect(
      schemaProblems(
        {
          type: "object",
          properties: { a: { type: "string", minLength: 1 }, b: { $ref: "#/definitions/n" } },
          definitions: { n: { type: "integer", minimum: 0 } },
          required: ["a"],
          additionalProperties: false,
        },
        "input",
      ),
    ).toEqual([]);
    expect(schemaProblems({}, "input")).toEqual([]);
  });

  it("names where a value does not fit", () => {
    const s = {
      type: "object",
      properties: { files: { type: "array", items: { type: "string" } }, n: { type: "integer" } },
      required: ["files"],
      additionalProperties: false,
    };
    expect(mismatches(s, { files: [] }, "input")).toEqual([]);
    expect(mismatches(s, { files: ["a", 2] }, "steps[0].input").map((i) => i.path)).toContain(
      "steps[0].input.files[1]",
    );
    expect(mismatches(s, { n: 1 }, "input").length).toBeGreaterThan(0);
    expect(mismatches(s, { files: [], x: 1 }, "input").length).toBeGreaterThan(0);
    expect(
      mismatches(
        { type: "object", properties: { n: { $ref: "#/definitions/n" } }, definitions: { n: { type: "integer" } } },
        { n: "x" },
        "o",
      )[0]?.path,
    ).toBe("o.n");
  });
});
