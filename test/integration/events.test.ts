import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { EventAccepted, TriggerView } from "../../schema/automation";
import { api, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

const trigger = (body: Record<string, unknown>, key?: string) =>
  api("/v1/triggers", {
    method: "POST",
    json: {
      project: "p",
      steps: [{ id: "a", type: "system.echo", input: { branch: { $event: "data.branch" } } }],
      ...body,
    },
    ...(key ? { key } : {}),
  });
const send = (json: unknown, key?: string) => api("/v1/events", { method: "POST", json, ...(key ? { key } : {}) });
async function problem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(((await res.json()) as { code: string }).code).toBe(code);
}

describe("events and triggers", () => {
  it("an event starts one run per matching trigger, its input filled from the event; origin event", async () => {
    const billing = (await (
      await trigger({ eventType: "build.completed", match: { "data.repo": "billing" } })
    ).json()) as TriggerView;
    await trigger({ eventType: "build.completed", match: { "data.repo": "other" } });
    await trigger({ eventType: "deploy.done" });
    const res = await send({ id: "evt-1", type: "build.completed", data: { repo: "billing", branch: "main" } });
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as EventAccepted;
    expect(accepted).toMatchObject({ eventId: "evt-1", duplicate: false, runs: [{ triggerId: billing.id }] });
    const run = await waitForRun(accepted.runs[0]!.runId!);
    expect(run.status).toBe("succeeded");
    expect(run.steps[0]!.output).toEqual({ branch: "main" });
    expect(run.origin).toEqual({ kind: "event", id: "evt-1", triggerId: billing.id });
  });

  it("the same event id again, even 20 times at once, starts nothing more and answers the first runs", async () => {
    await trigger({ eventType: "push" });
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => send({ id: "dup", type: "push", data: { branch: "x" } }).then((r) => r.json())),
    );
    const runIds = new Set((answers as EventAccepted[]).map((a) => a.runs[0]?.runId));
    expect(runIds.size).toBe(1);
    expect([...runIds][0]).toMatch(/^run_/);
    expect((answers as EventAccepted[]).filter((a) => !a.duplicate)).toHaveLength(1);
    const later = (await (await send({ id: "dup", type: "push", data: {} })).json()) as EventAccepted;
    expect(later).toMatchObject({ duplicate: true, runs: [{ runId: [...runIds][0] }] });
    const runs = ((await (await api("/v1/runs")).json()) as { items: unknown[] }).items;
    expect(runs).toHaveLength(1);
  });

  it("lists and deletes triggers; a deleted trigger starts nothing", async () => {
    const made = (await (await trigger({ eventType: "t" })).json()) as TriggerView;
    const list = (await (await api("/v1/triggers")).json()) as { items: TriggerView[] };
    expect(list.items.map((t) => t.id)).toEqual([made.id]);
    expect((await api(`/v1/triggers/${made.id}`, { method: "DELETE" })).status).toBe(204);
    await problem(await api(`/v1/triggers/${made.id}`, { method: "DELETE" }), 404, "trigger.not_found");
    expect(((await (await send({ id: "e", type: "t" })).json()) as EventAccepted).runs).toEqual([]);
  });

  it("needs events:write to send; a runs-only key is 403", async () => {
    const writer = await newTenantKey("acme", { scopes: ["runs:read", "runs:write"] });
    await problem(await send({ id: "e", type: "t" }, writer), 403, "auth.insufficient_scope");
    const sender = await newTenantKey("acme", { scopes: ["events:write"] });
    expect((await send({ id: "e", type: "t" }, sender)).status).toBe(202);
  });

  it("bad input: a match deeper than 8 or over 2 KiB is 400; an event over 256 KiB is 413", async () => {
    await problem(await trigger({ eventType: "t", match: { "a.b.c.d.e.f.g.h.i": 1 } }), 400, "request.invalid");
    const big = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`data.k${i}`, "x".repeat(120)]));
    await problem(await trigger({ eventType: "t", match: big }), 400, "request.invalid");
    await problem(await send({ id: "e", type: "t", data: { blob: "x".repeat(300 * 1024) } }), 413, "event.too_large");
    await problem(await send({ id: "e", type: "bad type!" }), 400, "request.invalid");
    expect(((await (await api("/v1/triggers")).json()) as { items: unknown[] }).items).toEqual([]);
  });
});
