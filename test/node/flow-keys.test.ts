/** Flow-control keys' pure parts: template resolution at creation, and the CLI's `--concurrency`. */
import { describe, expect, it } from "vitest";
import { parseConcurrency } from "../../cli/commands/runs.ts";
import { resolveConcurrency, resolveKey } from "../../schema/flow.ts";

describe("resolveKey", () => {
  it("replaces each {{input.path}} with the input's value there", () => {
    const input = { repo: "billing", org: { name: "acme" }, n: 3, on: true };
    expect(resolveKey("{{input.repo}}", input)).toEqual({ ok: true, key: "billing" });
    expect(resolveKey("{{ input.org.name }}/{{input.repo}}#{{input.n}}:{{input.on}}", input)).toEqual({
      ok: true,
      key: "acme/billing#3:true",
    });
    expect(resolveKey("literal", input)).toEqual({ ok: true, key: "literal" });
  });

  it("refuses a missing path, a non-scalar value, and a template outside the input", () => {
    expect(resolveKey("{{input.missing}}", {})).toEqual({ ok: false, message: "the run's input.missing is missing" });
    expect(resolveKey("{{input.org}}", { org: { a: 1 } }).ok).toBe(false);
    expect(resolveKey("{{input.list}}", { list: [1] }).ok).toBe(false);
    expect(resolveKey("{{input.none}}", { none: null }).ok).toBe(false);
    expect(resolveKey("{{secret.x}}", {}).ok).toBe(false);
    expect(resolveKey("{{input}}", {}).ok).toBe(false);
    expect(resolveKey("{{input.a}}", { a: "" })).toEqual({
      ok: false,
      message: "the resolved key must have 1 to 256 characters",
    });
  });

  it("sorts a run's keys (the order they are acquired in) and merges one named twice at the lower limit", () => {
    const resolved = resolveConcurrency(
      [
        { key: "repo:{{input.repo}}", limit: 2 },
        { key: "org:{{input.org}}", limit: 5 },
        { key: "repo:billing", limit: 1 },
      ],
      { repo: "billing", org: "acme" },
    );
    expect(resolved).toEqual({
      ok: true,
      keys: [
        { key: "org:acme", limit: 5 },
        { key: "repo:billing", limit: 1 },
      ],
    });
    expect(resolveConcurrency([{ key: "{{input.x}}", limit: 1 }], {})).toMatchObject({
      ok: false,
      error: { path: "concurrency.0.key" },
    });
  });
});

describe("factory runs create --concurrency", () => {
  it("splits KEY=LIMIT at the last '=' and refuses anything else", () => {
    expect(parseConcurrency(undefined)).toBeUndefined();
    expect(parseConcurrency(["{{input.repo}}=1", "a=b=3"])).toEqual([
      { key: "{{input.repo}}", limit: 1 },
      { key: "a=b", limit: 3 },
    ]);
    expect(() => parseConcurrency(["nolimit"])).toThrow(/KEY=LIMIT/);
    expect(() => parseConcurrency(["k=x"])).toThrow(/KEY=LIMIT/);
  });
});
