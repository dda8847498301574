import { describe, expect, it } from "vitest";
import { mayHoldSecret, type Redaction, redactJson, redactText } from "../../src/artifacts/redact";
import { plantedSecrets } from "../../src/data/jobs/planted";

const fp = async (ruleId: string) => `fp_${ruleId.length.toString(16).padStart(32, "0")}`;

describe("the pre-filter", () => {
  it("flags every planted secret's text, and each vendor token alone", () => {
    // Basic auth, connection strings and assignments are secrets only in their context.
    const contextual = ["basicauth", "database-connection-string", "high-entropy"];
    for (const p of plantedSecrets()) {
      expect(mayHoldSecret(p.content), p.ruleId).toBe(true);
      if (!contextual.some((c) => p.ruleId.includes(c))) expect(mayHoldSecret(p.secret), p.ruleId).toBe(true);
    }
  });

  it("lets ordinary step text through without the rules", () => {
    for (const text of [
      "step started",
      "built 12 modules in 340 ms",
      "Deploying billing-api to eu-west-1 (3 replicas)",
      "tests: 418 passed, 0 failed",
      "downloaded https://registry.npmjs.org/hono",
      "Approved: looks good to me, ship it",
    ])
      expect(mayHoldSecret(text), text).toBe(false);
  });
});

describe("redaction", () => {
  it("replaces each planted secret with its rule and fingerprint, and says where", async () => {
    for (const p of plantedSecrets()) {
      const found: Redaction[] = [];
      const out = await redactText(p.content, "output", fp, found);
      expect(out, p.ruleId).not.toContain(p.secret);
      expect(out).toContain(`[REDACTED ${p.ruleId} fp_`);
      expect(found.map((f) => f.ruleId)).toContain(p.ruleId);
      expect(JSON.stringify(found)).not.toContain(p.secret);
    }
  });

  it("walks JSON: nested values, keys, and key=value assignments", async () => {
    const [aws, github] = plantedSecrets();
    const found: Redaction[] = [];
    const out = await redactJson(
      { a: [{ b: `x ${github!.secret} y` }], [aws!.secret]: 1, password: "Zq8rT2mLx9VkW4pN", ok: "plain words" },
      "output",
      fp,
      found,
    );
    const text = JSON.stringify(out);
    expect(text).not.toContain(github!.secret);
    expect(text).not.toContain(aws!.secret);
    expect(text).not.toContain("Zq8rT2mLx9VkW4pN");
    expect((out as Record<string, unknown>).ok).toBe("plain words");
    expect(found.map((f) => f.field).sort()).toEqual(["output (a key)", "output.a[0].b", "output.password"]);
  });

  it("without a fingerprint still redacts", async () => {
    const [, github] = plantedSecrets();
    const out = await redactText(`t=${github!.secret}`, "comment", async () => null, []);
    expect(out).toBe(`t=[REDACTED ${github!.ruleId}]`);
  });
});
