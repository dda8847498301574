/**
 * Signal steps woken by events: a step declares `event: { type, match }` (values may name the
 * run's input), registers in its tenant's automation object when it starts waiting, and
 * `POST /v1/events` completes it with the event's data, exactly once, with no run id.
 */
import { reset, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { EventAccepted } from "../../schema/automation";
import { api, createRun, events, waitForRun } from "../support/api";

afterEach(() => reset());

const waitingRun = (repo: string, timeoutMs?: number) =>
  createRun({
    project: "p",
    input: { repo },
    steps: [
      {
        id: "built",
        type: "signal",
        input: {
          name: "built",
          schema: { type: "object", required: ["status"] },
          event: { type: "build.completed", match: { "data.repo": { $input: "repo" } } },
          ...(timeoutMs ? { timeoutMs } : {}),
        },
      },
      { id: "after", type: "system.echo", input: { done: true }, dependsOn: ["built"] },
    ],
  });

/** The (run, step) pairs the tenant's index holds now. */
const indexed = () =>
  runInDurableObject(env.AUTOMATION.getByName("dev"), (_o, state) =>
    state.storage.sql
      .exec<{ run_id: string; step_id: string }>("SELECT run_id, step_id FROM event_wait ORDER BY run_id")
      .toArray()
      .map((r) => `${r.run_id}/${r.step_id}`),
  );

/** Polls until `check` holds: the index is written after the run's commit, by its outbox. */
async function until<T>(read: () => Promise<T>, check: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await read();
    if (check(v)) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never: ${what}`);
}

const send = async (json: unknown): Promise<EventAccepted> => {
  const res = await api("/v1/events", { method: "POST", json });
  expect(res.status).toBe(202);
  return (await res.json()) as EventAccepted;
};

describe("signal steps woken by events", () => {
  it("an event completes the waiting step whose match (filled from the run's input) it meets, with its data", async () => {
    const billing = await waitingRun("billing");
    const other = await waitingRun("other");
    await until(indexed, (i) => i.length === 2, "both steps indexed");
    const data = { repo: "billing", status: "green" };
    const accepted = await send({ id: "b-1", type: "build.completed", data });
    expect(accepted.woke).toEqual([{ runId: billing.id, stepId: "built", ok: true }]);
    const run = await waitForRun(billing.id);
    expect(run.status).toBe("succeeded");
    expect(run.steps.find((s) => s.id === "built")?.output).toEqual(data);
    // The other run still waits, and only its step is left in the index.
    expect((await api(`/v1/runs/${other.id}`).then((r) => r.json())) as { status: string }).toMatchObject({
      status: "running",
    });
    await until(indexed, (i) => i.length === 1, "the woken step unindexed");
    expect(await indexed()).toEqual([`${other.id}/built`]);
    // The same id again: answered as before, nothing completed twice.
    const again = await send({ id: "b-1", type: "build.completed", data: { repo: "billing", status: "red" } });
    expect(again).toMatchObject({ duplicate: true, woke: accepted.woke });
    const received = (await events(billing.id)).filter((e) => e.type === "step.signal_received");
    expect(received).toHaveLength(1);
  });

  it("the same event sent 20 times at once completes the step once", async () => {
    const run = await waitingRun("web");
    await until(indexed, (i) => i.length === 1, "the step indexed");
    const data = { repo: "web", status: "ok" };
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => send({ id: "burst", type: "build.completed", data })),
    );
    expect(answers.filter((a) => !a.duplicate)).toHaveLength(1);
    for (const a of answers) expect(a.woke.every((w) => w.runId === run.id && w.ok)).toBe(true);
    expect((await waitForRun(run.id)).steps.find((s) => s.id === "built")?.output).toEqual(data);
    expect((await events(run.id)).filter((e) => e.type === "step.signal_received")).toHaveLength(1);
  });

  it("the signal's schema applies: a body it refuses leaves the step waiting for a later event", async () => {
    const run = await waitingRun("api");
    await until(indexed, (i) => i.length === 1, "the step indexed");
    const bad = await send({ id: "no-status", type: "build.completed", data: { repo: "api" } });
    expect(bad.woke).toEqual([{ runId: run.id, stepId: "built", ok: false, error: "signal.invalid_body" }]);
    expect(((await api(`/v1/runs/${run.id}`).then((r) => r.json())) as { status: string }).status).toBe("running");
    const good = await send({ id: "with-status", type: "build.completed", data: { repo: "api", status: "ok" } });
    expect(good.woke).toEqual([{ runId: run.id, stepId: "built", ok: true }]);
    expect((await waitForRun(run.id)).status).toBe("succeeded");
  });

  it("a step that ends otherwise leaves the index: by its timeout, or (met by an event) its run cancelled", async () => {
    const timed = await waitingRun("slow", 1000);
    const cancelled = await waitingRun("gone");
    await until(indexed, (i) => i.length === 2, "both steps indexed");
    expect((await waitForRun(timed.id)).status).toBe("failed");
    await until(indexed, (i) => !i.includes(`${timed.id}/built`), "the timed-out step unindexed");
    expect((await api(`/v1/runs/${cancelled.id}/cancel`, { method: "POST" })).status).toBe(200);
    await waitForRun(cancelled.id);
    const met = await send({ id: "late", type: "build.completed", data: { repo: "gone", status: "ok" } });
    expect(met.woke).toEqual([{ runId: cancelled.id, stepId: "built", ok: false, error: "run.finished" }]);
    expect(await indexed()).toEqual([]);
  });
});
