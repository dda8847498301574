/** Step keys' pure parts (docs/flow-control.md, "Step keys"): resolution over a step's input, and the CLI posting them. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runs } from "../../cli/commands/runs.ts";
import type { Context } from "../../cli/context.ts";
import { resolveStepFlow } from "../../schema/flow.ts";

describe("resolveStepFlow", () => {
  it("resolves a step's own keys against its input, over its job type's", () => {
    const typeKeys = {
      concurrency: { key: "repo:{{input.repo}}", limit: 1 },
      rateLimit: { key: "org:{{input.org}}", limit: 5, periodMs: 1000 },
    };
    expect(resolveStepFlow({}, typeKeys, { repo: "api", org: "acme" })).toEqual({
      ok: true,
      flow: { concurrency: { key: "repo:api", limit: 1 }, rateLimit: { key: "org:acme", limit: 5, periodMs: 1000 } },
    });
    expect(resolveStepFlow({ concurrency: { key: "mine", limit: 2 } }, typeKeys, { org: "acme" })).toEqual({
      ok: true,
      flow: { concurrency: { key: "mine", limit: 2 }, rateLimit: { key: "org:acme", limit: 5, periodMs: 1000 } },
    });
    // No keys: nothing (the step's row then holds nothing of them).
    expect(resolveStepFlow({}, undefined, {})).toEqual({ ok: true, flow: null });
  });

  it("names the field of a key whose path the step's input lacks", () => {
    expect(resolveStepFlow({ rateLimit: { key: "{{input.org}}", limit: 1, periodMs: 100 } }, undefined, {})).toEqual({
      ok: false,
      error: { path: "rateLimit.key", message: "the step's input.org is missing" },
    });
  });
});

describe("factory runs create --steps", () => {
  it("posts a steps file's keys as they are written (the API checks them)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "step-flow-"));
    const steps = [
      {
        id: "a",
        type: "system.echo",
        input: { org: "acme" },
        rateLimit: { key: "{{input.org}}", limit: 5, periodMs: 1000 },
      },
      { id: "b", type: "system.echo", concurrency: { key: "deploy", limit: 1 } },
    ];
    writeFileSync(join(dir, "steps.json"), JSON.stringify(steps));
    const posted: unknown[] = [];
    const client = {
      createRun: async (body: unknown) => {
        posted.push(body);
        return { id: "run_1", status: "running" };
      },
    } as unknown as ReturnType<Context["client"]>;
    const flags = { project: "p", steps: join(dir, "steps.json") };
    const ctx: Context = {
      flags,
      out: process.stdout,
      flag: (name) => flags[name as keyof typeof flags],
      print: () => {},
      client: () => client,
      adminClient: () => client,
    };
    expect(await runs.commands.create!(ctx, [])).toBe(0);
    expect(posted).toEqual([{ project: "p", steps }]);
  });
});
