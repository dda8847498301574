import { reset, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { RunView } from "../../schema/api";
import type { ScheduleView } from "../../schema/automation";
import { ADMIN_TOKEN, api, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

const echo = { project: "p", steps: [{ id: "a", type: "system.echo", input: { hi: 1 } }] };
const create = (body: Record<string, unknown>, key?: string) =>
  api("/v1/schedules", { method: "POST", json: { ...echo, ...body }, ...(key ? { key } : {}) });
const read = async (id: string, key?: string) =>
  (await (await api(`/v1/schedules/${id}`, key ? { key } : {})).json()) as ScheduleView;
async function problem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = (await res.json()) as { code: string; detail?: string };
  expect(body.code).toBe(code);
  return body;
}

/**
 * Makes the schedule's next fire due at `fireTime` (a moment ago unless named: a test cannot wait
 * for the clock) and runs the object's alarm.
 */
async function fireDue(tenantId: string, scheduleId: string, fireTime: number | null = Date.now() - 500) {
  const stub = env.AUTOMATION.getByName(tenantId);
  await runInDurableObject(stub, async (_o, state) => {
    if (fireTime !== null)
      state.storage.sql.exec("UPDATE schedule SET next_fire = ? WHERE id = ?", fireTime, scheduleId);
    state.storage.sql.exec("UPDATE timer SET due_at = 0 WHERE ref = ?", scheduleId);
    await state.storage.setAlarm(Date.now());
  });
  expect(await runDurableObjectAlarm(stub)).toBe(true);
}

const runsOf = async (key?: string) =>
  ((await (await api("/v1/runs?limit=100", key ? { key } : {})).json()) as { items: { id: string }[] }).items;

describe("schedules", () => {
  it("every PT2S: shows 5 next fire times; each fire starts one run (origin schedule); a fire retried after a kill starts none", async () => {
    const res = await create({ spec: { every: "PT2S" }, name: "tick" });
    expect(res.status).toBe(201);
    const made = (await res.json()) as ScheduleView;
    expect(made).toMatchObject({ name: "tick", overlap: "skip", catchUp: "PT0S", paused: false, lastFires: [] });
    const next = made.nextFireTimes.map(Date.parse);
    expect(next).toHaveLength(5);
    for (let i = 1; i < 5; i++) expect(next[i]! - next[i - 1]!).toBe(2_000);

    // The fire one period before the first shown (the schedule's anchor), made twice, as after a
    // kill between starting its run and recording it: the same key, so the same run.
    const fireTime = next[0]! - 2_000;
    await fireDue("dev", made.id, fireTime);
    await runInDurableObject(env.AUTOMATION.getByName("dev"), (_o, state) => {
      state.storage.sql.exec("UPDATE schedule SET last_run = NULL");
      state.storage.sql.exec("DELETE FROM fire");
    });
    await fireDue("dev", made.id, fireTime);
    const after = await read(made.id);
    const fired = after.lastFires.filter((f) => f.fireTime === new Date(fireTime).toISOString());
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ outcome: "started" });
    const runId = fired[0]!.runId!;
    const run = await waitForRun(runId);
    expect(run.status).toBe("succeeded");
    expect(run.origin).toEqual({ kind: "schedule", id: made.id, fireTime: new Date(fireTime).toISOString() });
    expect((await runsOf()).map((r) => r.id)).toEqual([runId]);
    expect(after.nextFireTimes[0]).toBe(made.nextFireTimes[0]);
  });

  it("a cron in a time zone shows its next fires there; pause stops them, trigger fires anyway, resume goes on", async () => {
    const made = (await (
      await create({ spec: { cron: "0 9 * * 1-5", timezone: "Europe/Berlin" } })
    ).json()) as ScheduleView;
    for (const t of made.nextFireTimes) {
      const local = new Date(t).toLocaleString("en-GB", {
        timeZone: "Europe/Berlin",
        weekday: "short",
        hour: "2-digit",
        minute: "2-digit",
      });
      expect(local).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 09:00$/);
    }
    const paused = await api(`/v1/schedules/${made.id}`, { method: "PATCH", json: { paused: true } });
    expect(((await paused.json()) as ScheduleView).nextFireTimes).toEqual([]);
    const fired = await api(`/v1/schedules/${made.id}/trigger`, { method: "POST" });
    expect(fired.status).toBe(202);
    const { runId } = (await fired.json()) as { runId: string };
    expect((await waitForRun(runId)).origin).toMatchObject({ kind: "schedule", id: made.id });
    expect((await read(made.id)).lastFires[0]).toMatchObject({ outcome: "started", runId });
    const resumed = await api(`/v1/schedules/${made.id}`, { method: "PATCH", json: { paused: false } });
    expect(((await resumed.json()) as ScheduleView).nextFireTimes).toHaveLength(5);
  });

  it("overlap skip: a fire while the last run still goes starts nothing; buffer-one keeps one for its end", async () => {
    const long = { project: "p", steps: [{ id: "nap", type: "sleep", input: { for: "PT1H" } }] };
    for (const overlap of ["skip", "buffer-one"] as const) {
      const made = (await (await create({ ...long, spec: { every: "PT1M" }, overlap })).json()) as ScheduleView;
      const first = Date.now() - 2_000;
      await fireDue("dev", made.id, first);
      await fireDue("dev", made.id, first + 1_000);
      const fires = (await read(made.id)).lastFires;
      expect(fires.map((f) => f.outcome)).toEqual(["skipped", "started"]);
      const view = await read(made.id);
      expect(view.buffered).toBe(overlap === "buffer-one" ? new Date(first + 1_000).toISOString() : null);
      // The run ends: a buffered fire starts now, under its own fire time.
      await api(`/v1/runs/${fires[1]!.runId}/cancel`, { method: "POST" });
      await waitForRun(fires[1]!.runId!);
      if (overlap === "buffer-one") {
        await fireDue("dev", made.id, null);
        const again = await read(made.id);
        expect(again.buffered).toBeNull();
        expect(again.lastFires[0]).toMatchObject({
          outcome: "started",
          fireTime: new Date(first + 1_000).toISOString(),
        });
        await api(`/v1/runs/${again.lastFires[0]!.runId}/cancel`, { method: "POST" });
      }
    }
  });

  it("a fire the quota refuses is recorded (schedule.fire_refused) and the schedule moves on", async () => {
    const key = await newTenantKey("acme");
    await api("/v1/admin/tenants/acme", { method: "PATCH", key: ADMIN_TOKEN, json: { limits: { monthlyRuns: 0 } } });
    const made = (await (await create({ spec: { every: "PT1M" } }, key)).json()) as ScheduleView;
    await fireDue("acme", made.id);
    const view = await read(made.id, key);
    expect(view.lastFires[0]).toMatchObject({ outcome: "refused", runId: null });
    expect(view.lastFires[0]!.reason).toContain("quota.exceeded");
    expect(view.nextFireTimes[0]).toBe(made.nextFireTimes[0]);
    expect(await runsOf(key)).toEqual([]);
  });

  it("fires missed beyond catchUp are recorded once and skipped; within it they are made up", async () => {
    const made = (await (
      await create({ spec: { every: "PT1M" }, catchUp: "PT3M", overlap: "allow" })
    ).json()) as ScheduleView;
    const now = Date.now();
    // Down for ten minutes (the schedule older than that): the fires of the last 3 minutes (plus a
    // minute's grace, so from 4 minutes ago) are made up, one per alarm pass; the five before them are missed.
    await runInDurableObject(env.AUTOMATION.getByName("dev"), (_o, state) => {
      state.storage.sql.exec("UPDATE schedule SET anchor = ?", now - 10 * 60_000 + 30_000);
    });
    await fireDue("dev", made.id, now - 10 * 60_000 + 90_000);
    for (let i = 0; i < 3; i++) await fireDue("dev", made.id, null);
    const fires = (await read(made.id)).lastFires;
    expect(fires.at(-1)).toMatchObject({ outcome: "missed" });
    expect(fires.at(-1)!.reason).toMatch(/^5 fire\(s\) missed/);
    expect(fires.filter((f) => f.outcome === "started").length).toBeGreaterThanOrEqual(3);
    for (const f of fires.filter((x) => x.outcome === "started"))
      expect(Date.parse(f.fireTime)).toBeGreaterThanOrEqual(now - 4 * 60_000 - 1_000);
  });

  it("lists with a cursor; deletes; another tenant sees none of them", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(((await (await create({ spec: { every: "PT1H" } })).json()) as ScheduleView).id);
    const first = (await (await api("/v1/schedules?limit=2")).json()) as { items: ScheduleView[]; nextCursor: string };
    expect(first.items.map((s) => s.id)).toEqual(ids.slice(0, 2));
    const second = (await (await api(`/v1/schedules?limit=2&cursor=${first.nextCursor}`)).json()) as {
      items: ScheduleView[];
      nextCursor: string | null;
    };
    expect(second).toMatchObject({ items: [{ id: ids[2] }], nextCursor: null });
    const other = await newTenantKey("other");
    await problem(await api(`/v1/schedules/${ids[0]}`, { key: other }), 404, "schedule.not_found");
    expect((await api(`/v1/schedules/${ids[0]}`, { method: "DELETE" })).status).toBe(204);
    await problem(await api(`/v1/schedules/${ids[0]}`), 404, "schedule.not_found");
    await problem(await api("/v1/schedules/nope"), 404, "schedule.not_found");
  });
});

describe("bad schedules", () => {
  it.each([
    [{ cron: "61 * * * *" }, "minute"],
    [{ cron: "0 9 * * 1-5", timezone: "Mars/Base" }, "timezone"],
    [{ every: "PT0.5S" }, "at least 1 s"],
    [{ every: "P1M" }, "no fixed length"],
    [{ at: "2020-01-01T00:00:00Z" }, "in the past"],
  ])("%j is 400 schedule.invalid_spec with the reason", async (spec, why) => {
    const body = await problem(await create({ spec }), 400, "schedule.invalid_spec");
    expect(JSON.stringify(body)).toContain(why);
  });

  it("a bad run, an unknown field or both blueprint and steps is refused before anything is stored", async () => {
    await problem(
      await create({ spec: { every: "PT1M" }, steps: [{ id: "a", type: "nope", input: {} }] }),
      422,
      "step.unknown_type",
    );
    await problem(await create({ spec: { every: "PT1M" }, extra: 1 }), 400, "request.invalid");
    await problem(await create({ spec: { every: "PT1M" }, blueprint: "microservice" }), 400, "request.invalid");
    expect(((await (await api("/v1/schedules")).json()) as { items: unknown[] }).items).toEqual([]);
  });

  it("more than limits.maxSchedules is 409 schedule.limit", async () => {
    const key = await newTenantKey("small");
    await api("/v1/admin/tenants/small", { method: "PATCH", key: ADMIN_TOKEN, json: { limits: { maxSchedules: 2 } } });
    for (let i = 0; i < 2; i++) expect((await create({ spec: { every: "PT1H" } }, key)).status).toBe(201);
    await problem(await create({ spec: { every: "PT1H" } }, key), 409, "schedule.limit");
  });
});

describe("runs show their origin", () => {
  it("an API run is origin api; its retry is origin retry naming the run", async () => {
    const res = await api("/v1/runs", {
      method: "POST",
      json: { project: "p", steps: [{ id: "f", type: "system.fail", input: { times: -1 } }] },
    });
    const run = (await res.json()) as RunView;
    expect(run.origin).toEqual({ kind: "api", id: null });
    await waitForRun(run.id);
    const retry = (await (await api(`/v1/runs/${run.id}/retry`, { method: "POST" })).json()) as RunView;
    expect(retry.origin).toEqual({ kind: "retry", id: run.id });
  });
});
