import { createExecutionContext, createMessageBatch, getQueueResult, reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";
import { afterEach, describe, expect, it } from "vitest";
import type { StepMessage } from "../../schema/messages";
import { api, createRun, waitForRun } from "../support/api";

afterEach(() => reset());

async function deliver(queue: string, bodies: unknown[]) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  return getQueueResult(batch, ctx);
}

describe("the queue consumer", () => {
  it("acks a message that does not fit the contract instead of retrying it forever", async () => {
    const result = await deliver("factory-system", [{ hello: "world" }, "not even an object"]);
    expect(result.explicitAcks.sort()).toEqual(["m0", "m1"]);
    expect(result.retryMessages).toEqual([]);
  });

  it("acks a duplicate delivery of an attempt that already ran, without running it again", async () => {
    const run = await createRun({ project: "p", steps: [{ id: "a", type: "system.echo", input: { v: 1 } }] });
    await waitForRun(run.id);
    const duplicate: StepMessage = {
      v: 1,
      runId: run.id,
      tenantId: "dev",
      stepId: "a",
      attempt: 1,
      type: "system.echo",
      pool: "system",
      traceId: run.traceId,
    };
    const result = await deliver("factory-system", [duplicate]);
    expect(result.explicitAcks).toEqual(["m0"]);
    const events = ((await (await api(`/v1/runs/${run.id}/events`)).json()) as { items: { type: string }[] }).items;
    expect(events.filter((e) => e.type === "step.started")).toHaveLength(1);
  });

  it("a message from a pool's dead-letter queue reaches the run, whose retry policy re-dispatches the step", async () => {
    const run = await createRun({ project: "p", steps: [{ id: "a", type: "system.sleep", input: { ms: 300 } }] });
    const poisoned: StepMessage = {
      v: 1,
      runId: run.id,
      tenantId: "dev",
      stepId: "a",
      attempt: 1,
      type: "system.sleep",
      pool: "system",
      traceId: run.traceId,
    };
    const result = await deliver("factory-system-dlq", [poisoned]);
    expect(result.explicitAcks).toEqual(["m0"]);
    const done = await waitForRun(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.steps[0]!.attempts).toBe(2);
    const events = (
      (await (await api(`/v1/runs/${run.id}/events`)).json()) as {
        items: { type: string; data: { error?: { code: string } } }[];
      }
    ).items;
    expect(events.find((e) => e.type === "step.retrying")?.data.error?.code).toBe("step.dead_lettered");
  });

  it("acks a message for a run that does not exist: there is nothing to redeliver it to", async () => {
    const stray: StepMessage = {
      v: 1,
      runId: "run_0000000000zzzzzzzzzzzzzzzz",
      tenantId: "dev",
      stepId: "a",
      attempt: 1,
      type: "system.echo",
      pool: "system",
      traceId: "t",
    };
    const result = await deliver("factory-system", [stray]);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(result.retryMessages).toEqual([]);
  });
});
