import { describe, expect, it } from "vitest";
import { hash } from "../../src/data/jobs/system";
import { WORK_BYTES, hashStep, workMaterial } from "../../src/lib/work";
import type { JobContext } from "../../src/data/job";

/** An independent digest: Web Crypto directly, hex by hand. */
async function sha256(s: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("the benchmark's unit of work", () => {
  it("hashes exactly 1 KiB built from the previous output", async () => {
    const previous = "ab12";
    expect(workMaterial(previous)).toHaveLength(WORK_BYTES);
    expect(workMaterial(previous).startsWith("ab12ab12")).toBe(true);
    expect(await hashStep(previous)).toBe(await sha256("ab12".repeat(256)));
    expect(await hashStep("")).toBe(await sha256("seed".repeat(256)));
  });

  it("hashes a fan-in's joined inputs whole when they pass 1 KiB", () => {
    const joined = "f".repeat(64 * 200);
    expect(workMaterial(joined)).toBe(joined);
  });
});

describe("system.hash", () => {
  const run = (input: { seed?: string }, upstream: Record<string, unknown>) =>
    hash.run({ input, upstream } as unknown as JobContext<{ seed?: string }>);

  it("starts a chain from its seed and continues it from the upstream hash", async () => {
    const first = await run({ seed: "s" }, {});
    expect(first.hash).toBe(await sha256("s".repeat(WORK_BYTES)));
    const second = await run({}, { a: first });
    expect(second.hash).toBe(await sha256(workMaterial(first.hash)));
  });

  it("joins several upstream hashes in step-id order, so the result does not depend on arrival order", async () => {
    const both = await run({}, { b: { hash: "2" }, a: { hash: "1" } });
    expect(both.hash).toBe(await sha256("12".repeat(512)));
  });
});
