/**
 * /v1/schedules: a tenant's schedules (create, list, read, change, delete, fire now). They live in
 * the tenant's automation object (src/control/automation/), which fires them from its alarm.
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  CreateScheduleBody,
  DEFAULT_MAX_SCHEDULES,
  ListSchedulesQuery,
  ScheduleList,
  ScheduleView,
  TriggeredFire,
  UpdateScheduleBody,
} from "../../schema/automation";
import type { Refusal } from "../../schema/errors";
import { resolveOptions } from "../env";
import { resolveRun } from "../control/resolve";
import { AppError } from "../errors";
import { automationStub } from "../control/automation/stub";
import { JSON_BODY, json, newApi, problemResponses, TENANT_CALL } from "./common";

const security = [{ bearer: [] }];
const SCHEDULE_ID = /^sch_[0-9a-z]{26}$/;
const IdParam = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "sch_01m98pghmy6fxt4wfkaa6arw29" }),
});

const automation = automationStub;
function scheduleId(id: string): string {
  if (!SCHEDULE_ID.test(id)) throw new AppError("schedule.not_found");
  return id;
}
const found = <T>(value: T | null): T => {
  if (value === null) throw new AppError("schedule.not_found");
  return value;
};
/** An object's answer: the schedule, or its refusal as the API's problem. */
function settled<R extends { ok: true } | Refusal>(result: R | null): Extract<R, { ok: true }> {
  const value = found(result);
  if (!value.ok) throw AppError.from(value as Refusal);
  return value as Extract<R, { ok: true }>;
}

export const schedules = newApi();

schedules.openapi(
  createRoute({
    method: "post",
    operationId: "createSchedule",
    path: "/",
    summary: "Create a schedule that starts a run at each fire time (cron in a time zone, every duration, or once at)",
    security,
    request: { body: { required: true, content: { "application/json": { schema: CreateScheduleBody } } } },
    responses: {
      201: json(ScheduleView, "the schedule, with its next fire times"),
      ...problemResponses(
        ...TENANT_CALL,
        ...JSON_BODY,
        "schedule.invalid_spec",
        "schedule.limit",
        "blueprint.not_found",
        "blueprint.invalid_input",
        "step.unknown_type",
        "step.type_disabled",
        "run.invalid_graph",
        "step.invalid_input",
        "duration.invalid",
      ),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    // The run each fire starts is checked now, as POST /v1/runs would check it.
    const resolved = resolveRun(body, resolveOptions(c.env));
    if (!resolved.ok) throw resolved.error;
    const tenantId = c.get("tenantId");
    const tenant = await c.env.TENANT.getByName(tenantId).getTenant();
    const limit = tenant?.limits.maxSchedules ?? DEFAULT_MAX_SCHEDULES;
    const { schedule } = settled(await automation(c.env, tenantId).createSchedule(body, limit));
    c.header("location", `/v1/schedules/${schedule.id}`);
    return c.json(schedule, 201);
  },
);

schedules.openapi(
  createRoute({
    method: "get",
    operationId: "listSchedules",
    path: "/",
    summary: "List the tenant's schedules, oldest first, with their next fire times",
    security,
    request: { query: ListSchedulesQuery },
    responses: { 200: json(ScheduleList, "a page of schedules"), ...problemResponses(...TENANT_CALL) },
  }),
  async (c) => {
    const q = c.req.valid("query");
    if (q.cursor !== undefined && !SCHEDULE_ID.test(q.cursor))
      throw new AppError("request.invalid", "The cursor is not one this API issued.");
    const page = await automation(c.env, c.get("tenantId")).listSchedules(q.limit, q.cursor ?? null);
    return c.json({ items: page.items, nextCursor: page.last }, 200);
  },
);

schedules.openapi(
  createRoute({
    method: "get",
    operationId: "getSchedule",
    path: "/{id}",
    summary: "A schedule: its next 5 fire times and its last 10 fires with their runs",
    security,
    request: { params: IdParam },
    responses: { 200: json(ScheduleView, "the schedule"), ...problemResponses(...TENANT_CALL, "schedule.not_found") },
  }),
  async (c) => {
    const id = scheduleId(c.req.valid("param").id);
    return c.json(found(await automation(c.env, c.get("tenantId")).getSchedule(id)), 200);
  },
);

schedules.openapi(
  createRoute({
    method: "patch",
    operationId: "updateSchedule",
    path: "/{id}",
    summary: "Change a schedule: pause or resume it, its spec, overlap, catch-up or input",
    security,
    request: {
      params: IdParam,
      body: { required: true, content: { "application/json": { schema: UpdateScheduleBody } } },
    },
    responses: {
      200: json(ScheduleView, "the schedule as changed"),
      ...problemResponses(...TENANT_CALL, ...JSON_BODY, "schedule.not_found", "schedule.invalid_spec"),
    },
  }),
  async (c) => {
    const id = scheduleId(c.req.valid("param").id);
    const result = await automation(c.env, c.get("tenantId")).updateSchedule(id, c.req.valid("json"));
    return c.json(settled(result).schedule, 200);
  },
);

schedules.openapi(
  createRoute({
    method: "delete",
    operationId: "deleteSchedule",
    path: "/{id}",
    summary: "Delete a schedule (the runs it started stay)",
    security,
    request: { params: IdParam },
    responses: { 204: { description: "deleted" }, ...problemResponses(...TENANT_CALL, "schedule.not_found") },
  }),
  async (c) => {
    const id = scheduleId(c.req.valid("param").id);
    if (!(await automation(c.env, c.get("tenantId")).deleteSchedule(id))) throw new AppError("schedule.not_found");
    return c.body(null, 204);
  },
);

schedules.openapi(
  createRoute({
    method: "post",
    operationId: "fireSchedule",
    path: "/{id}/trigger",
    summary: "Fire a schedule now (also a paused one); the run starts as at any fire",
    security,
    request: { params: IdParam },
    responses: {
      202: json(TriggeredFire, "the fire and its run"),
      ...problemResponses(...TENANT_CALL, "schedule.not_found", "quota.exceeded", "budget.exceeded"),
    },
  }),
  async (c) => {
    const id = scheduleId(c.req.valid("param").id);
    const fired = settled(await automation(c.env, c.get("tenantId")).triggerSchedule(id));
    c.header("location", `/v1/runs/${fired.runId}`);
    return c.json({ scheduleId: id, fireTime: fired.fireTime, runId: fired.runId, replayed: fired.replayed }, 202);
  },
);
