import { describe, expect, it } from "vitest";
import { approverRefusal, schemaMismatch } from "../../src/control/run/gates";
import { decisionLinks, readLink, signLink, type LinkClaims } from "../../src/lib/decision-links";

describe("a signal's schema (JSON Schema draft-07, the validator tenant job types use)", () => {
  const schema = {
    type: "object",
    required: ["status"],
    additionalProperties: false,
    properties: {
      status: { enum: ["ok", "failed"] },
      build: { type: "integer" },
      tags: { type: "array", items: { type: "string" } },
    },
  };

  it("accepts what fits and names where the first thing that does not is", () => {
    expect(schemaMismatch(schema, { status: "ok", build: 3, tags: ["a"] })).toBeNull();
    expect(schemaMismatch(schema, { status: "maybe" })).toMatch(/^body\.status: /);
    expect(schemaMismatch(schema, { build: 3 })).toMatch(/^body: .*status/);
    expect(schemaMismatch(schema, { status: "ok", build: 3.5 })).toMatch(/^body\.build: /);
    expect(schemaMismatch(schema, { status: "ok", tags: ["a", 1] })).toMatch(/^body\.tags\[1\]: /);
    expect(schemaMismatch(schema, { status: "ok", extra: true })).toMatch(/extra/);
    expect(schemaMismatch(schema, [1])).toMatch(/^body: /);
    expect(schemaMismatch({ type: ["number", "null"] }, null)).toBeNull();
    expect(schemaMismatch({ type: "number" }, 4)).toBeNull(); // an integer is a number
    // More than the old hand-written subset: numeric bounds, string patterns, composition.
    expect(schemaMismatch({ type: "integer", minimum: 10 }, 3)).toMatch(/^body: /);
    expect(schemaMismatch({ type: "string", pattern: "^v[0-9]+$" }, "x1")).toMatch(/^body: /);
    expect(schemaMismatch({ anyOf: [{ type: "string" }, { type: "integer" }] }, 2)).toBeNull();
  });

  it("`required` asks for the body's own properties, not what every object inherits", () => {
    const names = { type: "object", required: ["constructor", "toString"] };
    expect(schemaMismatch(names, {})).toMatch(/required property "(constructor|toString)"/);
    expect(schemaMismatch(names, { constructor: 1 })).toMatch(/toString/);
    expect(schemaMismatch(names, { constructor: 1, toString: "x" })).toBeNull();
    expect(schemaMismatch({ required: ["__proto__"] }, {})).toMatch(/__proto__/);
  });
});

describe("approvers", () => {
  const key = { keyId: "k1", name: "release", scopes: ["runs:read", "approvals:grant"] };
  it("a gate may name the keys and the scopes that decide it", () => {
    expect(approverRefusal(undefined, key)).toBeNull();
    expect(approverRefusal({ keys: ["k1", "k2"] }, key)).toBeNull();
    expect(approverRefusal({ keys: ["k2"] }, key)).toMatch(/not one/);
    expect(approverRefusal({ scopes: ["runs:read"] }, key)).toBeNull();
    expect(approverRefusal({ scopes: ["runs:write"] }, key)).toMatch(/runs:write/);
  });
});

describe("decision links", () => {
  const claims: LinkClaims = {
    tenantId: "acme",
    runId: "run_0000000000aaaaaaaaaaaaaaaa",
    stepId: "approval",
    decision: "approve",
    expiresAt: 1_900_000_000_000,
    linkId: "lnk_1",
  };

  it("reads back what it signed, and nothing signed otherwise or changed", () => {
    const token = signLink("s3cret", claims);
    expect(readLink("s3cret", token)).toEqual(claims);
    expect(readLink("other", token)).toBeNull();
    const [payload, sig] = token.split(".") as [string, string];
    const forged = btoa(JSON.stringify({ ...claims, decision: "reject" })).replace(/=+$/, "");
    expect(readLink("s3cret", `${forged}.${sig}`)).toBeNull();
    expect(readLink("s3cret", `${payload}.${sig.slice(0, -2)}`)).toBeNull();
    expect(readLink("s3cret", `${token}.x`)).toBeNull();
    expect(readLink("s3cret", "garbage")).toBeNull();
  });

  it("a gate's pair: distinct single-use ids, under the public origin", () => {
    const { approveUrl, rejectUrl } = decisionLinks("s3cret", "https://factory.example.com/", {
      tenantId: "acme",
      runId: claims.runId,
      stepId: "approval",
      expiresAt: claims.expiresAt,
    });
    expect(approveUrl.startsWith("https://factory.example.com/v1/decisions/")).toBe(true);
    const a = readLink("s3cret", approveUrl.split("/").pop()!)!;
    const r = readLink("s3cret", rejectUrl.split("/").pop()!)!;
    expect([a.decision, r.decision]).toEqual(["approve", "reject"]);
    expect(a.linkId).not.toBe(r.linkId);
  });
});
