import { reset } from "cloudflare:test";
import { afterEach, expect, it } from "vitest";
import { api, createRun, waitForRun } from "../support/api";

afterEach(() => reset());

it("agent steps run on the offline provider by default: text, a verdict, an artifact, and metered tokens", async () => {
  const run = await createRun({
    project: "ai",
    steps: [
      {
        id: "write",
        type: "agent.generate",
        input: { prompt: "Write a TypeScript function that adds two numbers.", artifact: "add.ts" },
      },
      { id: "check", type: "agent.review", input: { criteria: ["compiles", "has tests"] }, dependsOn: ["write"] },
    ],
  });
  const done = await waitForRun(run.id);
  expect(done.status).toBe("succeeded");
  const [write, check] = done.steps as {
    output: { text?: string; tokensIn: number; tokensOut: number; verdict?: string };
  }[];
  expect(write!.output.text).toContain("Offline completion");
  expect(check!.output.verdict).toBe("approve");
  expect(done.steps.map((s) => s.pool)).toEqual(["agent", "agent"]);

  const artifacts = ((await (await api(`/v1/runs/${run.id}/artifacts`)).json()) as { items: { name: string }[] }).items;
  expect(artifacts.map((a) => a.name)).toEqual(["add.ts"]);
  const usage = (
    (await (await api("/v1/usage")).json()) as { items: { key: string; tokensIn: number; tokensOut: number }[] }
  ).items[0]!;
  expect(usage).toMatchObject({
    key: "ai",
    tokensIn: write!.output.tokensIn + check!.output.tokensIn,
    tokensOut: write!.output.tokensOut + check!.output.tokensOut,
    // Tokens are kept per model too, so that each model can have its own price.
    models: {
      "offline-1": {
        tokensIn: write!.output.tokensIn + check!.output.tokensIn,
        tokensOut: write!.output.tokensOut + check!.output.tokensOut,
      },
    },
  });
});
