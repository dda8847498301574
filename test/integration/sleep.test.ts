import { abortAllDurableObjects, reset, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { RunView } from "../../schema/api";
import { api, createRun, events, waitForRun } from "../support/api";

afterEach(() => reset());

const get = async (id: string) => (await (await api(`/v1/runs/${id}`)).json()) as RunView;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waiting(runId: string, stepId: string) {
  for (const deadline = Date.now() + 8_000; Date.now() < deadline; await pause(20)) {
    const step = (await get(runId)).steps.find((s) => s.id === stepId);
    if (step?.status === "waiting") return step;
  }
  throw new Error(`${stepId} never waited`);
}
const timers = (runId: string) =>
  runInDurableObject(env.RUN.getByName(runId), (_o, state) =>
    state.storage.sql
      .exec<{ kind: string; ref: string; due_at: number }>("SELECT kind, ref, due_at FROM timer")
      .toArray(),
  );

const sleeper = (step: Record<string, unknown>) => ({
  project: "p",
  steps: [
    { id: "nap", ...step },
    { id: "after", type: "system.echo", input: { woke: true }, dependsOn: ["nap"] },
  ],
});

describe("durable sleep", () => {
  it("sleeps in the run's object (no attempt, one timer row), survives eviction, and wakes on its alarm", async () => {
    const before = Date.now();
    const run = await createRun(sleeper({ type: "sleep", input: { for: "PT10M" } }));
    const nap = await waiting(run.id, "nap");
    expect(nap).toMatchObject({ pool: "control", attempts: 0, waitReason: "sleep" });
    const waitEvent = (await events(run.id)).find((e) => e.type === "step.waiting");
    expect(waitEvent?.data).toMatchObject({ kind: "sleep" });
    const until = Date.parse((waitEvent!.data as { until: string }).until);
    expect(until - before).toBeGreaterThanOrEqual(600_000);
    expect(until - Date.now()).toBeLessThanOrEqual(600_000);
    expect((await timers(run.id)).filter((t) => t.kind === "wait")).toEqual([
      { kind: "wait", ref: "nap", due_at: until },
    ]);

    // Evicted: the wake time is a row, not memory.
    await abortAllDurableObjects();
    expect((await get(run.id)).steps[0]?.status).toBe("waiting");
    const stub = env.RUN.getByName(run.id);
    // The alarm runs early: a sleep not yet due stays asleep.
    await runDurableObjectAlarm(stub);
    expect((await get(run.id)).steps[0]?.status).toBe("waiting");
    // Its time comes (moved to now) and the alarm wakes it; the run goes on.
    await runInDurableObject(stub, (_o, state) => {
      state.storage.sql.exec("UPDATE timer SET due_at = 0 WHERE kind = 'wait'");
    });
    await abortAllDurableObjects();
    await runInDurableObject(env.RUN.getByName(run.id), async (_o, state) => state.storage.setAlarm(Date.now()));
    expect(await runDurableObjectAlarm(env.RUN.getByName(run.id))).toBe(true);
    const done = await waitForRun(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.steps[0]?.output).toMatchObject({ until: new Date(until).toISOString() });
    expect(done.steps[0]?.attempts).toBe(0);
    expect((await events(run.id)).filter((e) => e.stepId === "nap" && e.type === "step.queued")).toHaveLength(0);
  });

  it("sleepUntil a time just ahead wakes by itself; one already past wakes at once", async () => {
    const soon = await createRun(
      sleeper({ type: "sleepUntil", input: { until: new Date(Date.now() + 400).toISOString() } }),
    );
    const past = await createRun(sleeper({ type: "sleepUntil", input: { until: "2020-01-01T00:00:00Z" } }));
    const [a, b] = await Promise.all([waitForRun(soon.id), waitForRun(past.id)]);
    expect(a.status).toBe("succeeded");
    expect(b.status).toBe("succeeded");
    expect(b.steps[0]?.output).toMatchObject({ until: "2020-01-01T00:00:00.000Z" });
    const woke = Date.parse((a.steps[0]!.output as { wokeAt: string }).wokeAt);
    expect(woke).toBeGreaterThanOrEqual(Date.parse((a.steps[0]!.output as { until: string }).until));
  });

  it("a cancelled run's sleep ends with it", async () => {
    const run = await createRun(sleeper({ type: "sleep", input: { for: "P1D" } }));
    await waiting(run.id, "nap");
    expect((await api(`/v1/runs/${run.id}/cancel`, { method: "POST" })).status).toBe(200);
    const done = await waitForRun(run.id);
    expect(done.status).toBe("cancelled");
    expect(done.steps[0]?.status).toBe("cancelled");
  });

  it.each([
    [{ type: "sleep", input: { for: "10 minutes" } }, "not an ISO 8601 duration"],
    [{ type: "sleep", input: { for: "P1M" } }, "no fixed length"],
    [{ type: "sleep", input: { for: "P366D" } }, "between"],
  ])(
    "a sleep duration that does not parse or is out of range %# is 400 duration.invalid naming why",
    async (step, why) => {
      const res = await api("/v1/runs", { method: "POST", json: sleeper(step) });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { code: string };
      expect(body.code).toBe("duration.invalid");
      expect(JSON.stringify(body)).toContain(why);
    },
  );

  it.each([
    [{ type: "sleep", input: {} }, ""],
    [{ type: "sleepUntil", input: { until: "tomorrow" } }, ""],
    [{ type: "sleepUntil", input: { until: new Date(Date.now() + 400 * 86_400_000).toISOString() } }, "365 days"],
  ])("bad sleep input %# is refused (422 step.invalid_input, as any step input) naming why", async (step, why) => {
    const res = await api("/v1/runs", { method: "POST", json: sleeper(step) });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { code: string };
    expect(body.code).toBe("step.invalid_input");
    expect(JSON.stringify(body)).toContain(why);
  });
});
