import { listDurableObjectIds } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { api } from "../support/api";

/** A step that is wrong in one of many ways, or right. */
const step = fc.record(
  {
    id: fc.oneof(fc.constantFrom("a", "b", "c", "../x", "", "a".repeat(65), "x y"), fc.string({ maxLength: 70 })),
    type: fc.oneof(
      fc.constantFrom("system.echo", "system.sleep", "system.fail", "repo.plan", "nope"),
      fc.string({ maxLength: 20 }),
    ),
    input: fc.oneof(
      fc.constant({}),
      fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 })),
      fc.jsonValue({ maxDepth: 2 }),
    ),
    dependsOn: fc.oneof(
      fc.array(fc.constantFrom("a", "b", "c", "ghost"), { maxLength: 4 }),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    retry: fc.oneof(
      fc.constant(undefined),
      fc.record({ maxAttempts: fc.integer({ min: -5, max: 50 }) }),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    timeoutMs: fc.oneof(fc.constant(undefined), fc.integer({ min: -10, max: 10_000_000 }), fc.string()),
  },
  { requiredKeys: [] },
);

/** Run specs that are malformed in at least one way (the cycle and dependency generators make most invalid). */
const spec = fc.oneof(
  fc.record(
    { project: fc.oneof(fc.constant("p"), fc.string({ maxLength: 70 })), steps: fc.array(step, { maxLength: 6 }) },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      project: fc.constant("p"),
      blueprint: fc.oneof(fc.constant("microservice"), fc.string({ maxLength: 10 })),
      input: fc.jsonValue({ maxDepth: 3 }),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue({ maxDepth: 4 }),
);

describe("POST /v1/runs under generated hostile specs", () => {
  it("never answers 5xx, always problem+json on refusal, and creates nothing it refuses", async () => {
    let ran = 0;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(spec, fc.boolean(), async (body, asText) => {
        ran++;
        const before = (await listDurableObjectIds(env.RUN)).length;
        const res = await api("/v1/runs", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: asText
            ? JSON.stringify(body).slice(0, Math.max(1, JSON.stringify(body).length - 1))
            : JSON.stringify(body),
        });
        expect(res.status).toBeLessThan(500);
        if (res.status === 202) {
          accepted++;
          await res.body?.cancel();
          return;
        }
        expect(res.headers.get("content-type")).toContain("application/problem+json");
        expect(((await res.json()) as { code: string }).code).toMatch(/^[a-z]+\.[a-z_]+$/);
        expect((await listDurableObjectIds(env.RUN)).length).toBe(before);
      }),
      { numRuns: 300, seed: 20261127 },
    );
    console.log(`fuzz: ${ran} generated run specs, ${accepted} accepted, ${ran - accepted} refused, 0 server errors`);
    expect(ran).toBe(300);
    // 300 requests, each listing the run objects: about 10 s on a quiet machine, and more than the
    // default 30 s when other test suites share its two cores (it timed out so once).
  }, 120_000);
});
