/**
 * Bad input to schedules and triggers (issue 25): every duration that does not parse answers 400
 * (a schedule's `every` and `catchUp` schedule.invalid_spec, on create and on change; a sleep
 * step's `for` duration.invalid, wherever the run is made), and the tenant's trigger limit is its
 * own (`limits.maxTriggers`, 1,000 when absent) → 409 trigger.limit.
 */
import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, api, newTenantKey } from "../support/api";

afterEach(() => reset());

const echo = [{ id: "a", type: "system.echo", input: {} }];
const create = (body: Record<string, unknown>, key?: string) =>
  api("/v1/schedules", {
    method: "POST",
    json: { project: "p", steps: echo, ...body },
    ...(key ? { key } : {}),
  });

async function problem(res: Response, status: number, code: string): Promise<string> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { code: string };
  expect(body.code).toBe(code);
  return JSON.stringify(body);
}

describe("durations that do not parse are 400", () => {
  it.each([
    [{ spec: { every: "" } }, "not an ISO 8601 duration"],
    [{ spec: { every: "banana" } }, "not an ISO 8601 duration"],
    [{ spec: { every: "PT" } }, "not an ISO 8601 duration"],
    [{ spec: { every: "PT1H" }, catchUp: "soon" }, "catchUp"],
    [{ spec: { every: "PT1H" }, catchUp: "P1M" }, "no fixed length"],
  ])("a schedule with %j is 400 schedule.invalid_spec", async (body, why) => {
    expect(await problem(await create(body), 400, "schedule.invalid_spec")).toContain(why);
  });

  it("a change to a schedule's every or catchUp that does not parse is 400 and changes nothing", async () => {
    const made = (await (await create({ spec: { every: "PT1H" } })).json()) as { id: string };
    for (const patch of [{ spec: { every: "hourly" } }, { catchUp: "x" }])
      await problem(
        await api(`/v1/schedules/${made.id}`, { method: "PATCH", json: patch }),
        400,
        "schedule.invalid_spec",
      );
    const now = (await (await api(`/v1/schedules/${made.id}`)).json()) as { spec: unknown; catchUp: string };
    expect(now).toMatchObject({ spec: { every: "PT1H" }, catchUp: "PT0S" });
  });

  it("a sleep step's `for` that does not parse is 400 duration.invalid in a run, a schedule and a trigger", async () => {
    const steps = [{ id: "nap", type: "sleep", input: { for: "ten minutes" } }];
    await problem(await api("/v1/runs", { method: "POST", json: { project: "p", steps } }), 400, "duration.invalid");
    await problem(await create({ spec: { every: "PT1H" }, steps }), 400, "duration.invalid");
    const trigger = await api("/v1/triggers", { method: "POST", json: { project: "p", eventType: "e", steps } });
    await problem(trigger, 400, "duration.invalid");
    // A step input wrong in another way is still 422, duration or not beside it.
    const mixed = [...steps, { id: "b", type: "sleepUntil", input: { until: "tomorrow" } }];
    await problem(
      await api("/v1/runs", { method: "POST", json: { project: "p", steps: mixed } }),
      422,
      "step.invalid_input",
    );
  });
});

describe("limits.maxTriggers", () => {
  it("more triggers than the tenant's limit is 409 trigger.limit", async () => {
    const key = await newTenantKey("few");
    const patched = await api("/v1/admin/tenants/few", {
      method: "PATCH",
      key: ADMIN_TOKEN,
      json: { limits: { maxTriggers: 2 } },
    });
    expect(patched.status).toBe(200);
    const trigger = () =>
      api("/v1/triggers", { method: "POST", key, json: { project: "p", eventType: "e", steps: echo } });
    for (let i = 0; i < 2; i++) expect((await trigger()).status).toBe(201);
    expect(await problem(await trigger(), 409, "trigger.limit")).toContain("limits.maxTriggers");
  });
});
