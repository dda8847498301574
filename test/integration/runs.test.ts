import { describe, expect, it } from "vitest";
import { api, createRun, waitForRun } from "../support/api";

describe("a run end to end inside workerd", () => {
  it("runs a chain of echo steps to success through the real queue and DO", async () => {
    const run = await createRun({
      project: "demo",
      steps: [
        { id: "a", type: "system.echo", input: { n: 1 } },
        { id: "b", type: "system.echo", input: { n: 2 }, dependsOn: ["a"] },
      ],
    });
    expect(run.status).toBe("running");
    const done = await waitForRun(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.steps.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ["a", "succeeded", 1],
      ["b", "succeeded", 1],
    ]);
    expect(done.steps[1]!.output).toEqual({ n: 2 });
    const events = (await (await api(`/v1/runs/${run.id}/events`)).json()) as { items: { type: string }[] };
    expect(events.items.map((e) => e.type)).toEqual([
      "run.requested",
      "run.validated",
      "run.queued",
      "run.started",
      "step.queued",
      "step.started",
      "step.succeeded",
      "step.queued",
      "step.started",
      "step.succeeded",
      "run.succeeded",
    ]);
  });
});
