/**
 * What a gate may hold and for how long (issue 33): signals kept for steps that do not wait yet
 * are bounded per run (count and bytes), a signal no step can ever wait for is refused, and a gate
 * without `timeoutMs` still ends when its decision links would (30 days).
 */
import { reset, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_EARLY_SIGNALS, MAX_EARLY_SIGNAL_BYTES, MAX_WAIT_MS } from "../../schema/jobs/control";
import type { TimerTable } from "../../src/control/run/timers";
import { api, createRun, events } from "../support/api";

afterEach(() => reset());

const signal = (runId: string, name: string, json: unknown) =>
  api(`/v1/runs/${runId}/signals/${name}`, { method: "POST", json });
async function problem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  expect(((await res.json()) as { code: string }).code).toBe(code);
}

/** A run whose signal step waits behind a long sleep: every signal sent now is kept early. */
const later = () =>
  createRun({
    project: "p",
    steps: [
      { id: "first", type: "system.sleep", input: { ms: 20_000 } },
      { id: "wait", type: "signal", input: { name: "go" }, dependsOn: ["first"] },
    ],
  });
const cancel = (runId: string) => api(`/v1/runs/${runId}/cancel`, { method: "POST" });

describe("signals kept for steps that do not wait yet", () => {
  it(`at most ${MAX_EARLY_SIGNALS} per run: the next is 429 signal.limit and is not kept`, async () => {
    const run = await later();
    for (let i = 0; i < MAX_EARLY_SIGNALS; i++) expect((await signal(run.id, `s-${i}`, { i })).status).toBe(200);
    await problem(await signal(run.id, "one-more", { i: -1 }), 429, "signal.limit");
    // A signal already kept answers as before (its receipt), and the refused one left nothing.
    expect((await signal(run.id, "s-0", { i: 0 })).status).toBe(200);
    const kept = (await events(run.id)).filter((e) => e.type === "step.signal_received");
    expect(kept).toHaveLength(MAX_EARLY_SIGNALS);
    expect(kept.some((e) => e.data.name === "one-more")).toBe(false);
    await cancel(run.id);
  });

  it(`at most ${MAX_EARLY_SIGNAL_BYTES} bytes in all: the signal that would pass it is 429`, async () => {
    const run = await later();
    const body = { pad: "x".repeat(63 * 1024) };
    const fits = Math.floor(MAX_EARLY_SIGNAL_BYTES / JSON.stringify(body).length);
    for (let i = 0; i < fits; i++) expect((await signal(run.id, `big-${i}`, body)).status).toBe(200);
    await problem(await signal(run.id, "big-last", body), 429, "signal.limit");
    // A small one still fits under the byte bound.
    expect((await signal(run.id, "small", { ok: true })).status).toBe(200);
    await cancel(run.id);
  });

  it("a signal its step is waiting for is never refused by the bound", async () => {
    const run = await createRun({
      project: "p",
      steps: [
        { id: "first", type: "system.sleep", input: { ms: 20_000 } },
        { id: "now", type: "signal", input: { name: "now" } },
      ],
    });
    for (let i = 0; i < MAX_EARLY_SIGNALS; i++) expect((await signal(run.id, `s-${i}`, {})).status).toBe(200);
    const res = await signal(run.id, "now", { taken: true });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ consumedBy: ["now"] });
    await cancel(run.id);
  });
});

describe("a signal no step can ever wait for", () => {
  it("is 404 signal.unknown when no signal step has its name and no step can spawn one", async () => {
    const run = await createRun({ project: "p", steps: [{ id: "wait", type: "signal", input: { name: "go" } }] });
    await problem(await signal(run.id, "nope", { x: 1 }), 404, "signal.unknown");
    expect((await events(run.id)).filter((e) => e.type === "step.signal_received")).toEqual([]);
    expect((await signal(run.id, "go", { x: 1 })).status).toBe(200);
  });

  it("is kept while a worker step that could still spawn its step has not finished", async () => {
    const run = await later();
    expect((await signal(run.id, "spawned-later", {})).status).toBe(200);
    await cancel(run.id);
  });
});

describe("a gate without timeoutMs", () => {
  it("ends when its decision links would: a wait timer 30 days out, and expiresAt in step.waiting", async () => {
    const before = Date.now();
    const run = await createRun({ project: "p", steps: [{ id: "gate", type: "approval", input: { title: "Ship?" } }] });
    for (let i = 0; i < 200; i++) {
      if ((await events(run.id)).some((e) => e.type === "step.waiting")) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const waiting = (await events(run.id)).find((e) => e.type === "step.waiting")!;
    const expiresAt = Date.parse(String(waiting.data.expiresAt));
    expect(expiresAt).toBeGreaterThanOrEqual(before + MAX_WAIT_MS);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + MAX_WAIT_MS);
    const due = await runInDurableObject(env.RUN.getByName(run.id), (object) => {
      const timers = (object as unknown as { store: { timers: Pick<TimerTable, "get"> } }).store.timers;
      return timers.get("wait", "gate")?.due_at ?? null;
    });
    expect(due).toBe(expiresAt);
    await cancel(run.id);
  });
});
