/**
 * /v1/events (scope events:write) and /v1/triggers: events that start runs. A trigger names an
 * event type, a match and the run to start; an event starts one run per matching trigger. Both
 * live in the tenant's automation object (src/control/automation/).
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  CreateTriggerBody,
  DEFAULT_MAX_TRIGGERS,
  EventAccepted,
  ListSchedulesQuery,
  MAX_EVENT_BYTES,
  SendEventBody,
  TriggerList,
  TriggerView,
} from "../../schema/automation";
import { resolveOptions } from "../env";
import { resolveRun } from "../control/resolve";
import { AppError, utf8Bytes } from "../errors";
import { automationStub } from "../control/automation/stub";
import { JSON_BODY, json, newApi, problemResponses, TENANT_CALL } from "./common";

const security = [{ bearer: [] }];
const TRIGGER_ID = /^trg_[0-9a-z]{26}$/;

export const events = newApi();

events.openapi(
  createRoute({
    method: "post",
    operationId: "sendEvent",
    path: "/",
    summary: "Send an event: starts one run per matching trigger; the same id within 24 h starts nothing more",
    security,
    request: { body: { required: true, content: { "application/json": { schema: SendEventBody } } } },
    responses: {
      202: json(EventAccepted, "the runs the event started (or, for a repeated id, started before)"),
      ...problemResponses(...TENANT_CALL, ...JSON_BODY, "event.too_large"),
    },
  }),
  async (c) => {
    const event = c.req.valid("json");
    if (utf8Bytes(JSON.stringify(event)) > MAX_EVENT_BYTES) throw new AppError("event.too_large");
    const accepted = await automationStub(c.env, c.get("tenantId")).acceptEvent(event);
    return c.json(accepted, 202);
  },
);

export const triggers = newApi();

triggers.openapi(
  createRoute({
    method: "post",
    operationId: "createTrigger",
    path: "/",
    summary: "Create a trigger: the run to start for each event of a type that matches",
    security,
    request: { body: { required: true, content: { "application/json": { schema: CreateTriggerBody } } } },
    responses: {
      201: json(TriggerView, "the trigger"),
      ...problemResponses(
        ...TENANT_CALL,
        ...JSON_BODY,
        "trigger.limit",
        "blueprint.not_found",
        "blueprint.invalid_input",
        "step.unknown_type",
        "step.type_disabled",
        "run.invalid_graph",
        "duration.invalid",
      ),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    // The run is checked now, with its templates as they stand ({"$event": …} objects are checked once filled).
    const resolved = resolveRun(body, resolveOptions(c.env));
    if (
      !resolved.ok &&
      resolved.error.code !== "step.invalid_input" &&
      resolved.error.code !== "blueprint.invalid_input"
    )
      throw resolved.error;
    const tenantId = c.get("tenantId");
    const tenant = await c.env.TENANT.getByName(tenantId).getTenant();
    const limit = tenant?.limits.maxTriggers ?? DEFAULT_MAX_TRIGGERS;
    const made = await automationStub(c.env, tenantId).createTrigger(body, limit);
    if (!made.ok) throw AppError.from(made);
    c.header("location", `/v1/triggers/${made.trigger.id}`);
    return c.json(made.trigger, 201);
  },
);

triggers.openapi(
  createRoute({
    method: "get",
    operationId: "listTriggers",
    path: "/",
    summary: "List the tenant's triggers, oldest first",
    security,
    request: { query: ListSchedulesQuery },
    responses: { 200: json(TriggerList, "a page of triggers"), ...problemResponses(...TENANT_CALL) },
  }),
  async (c) => {
    const q = c.req.valid("query");
    if (q.cursor !== undefined && !TRIGGER_ID.test(q.cursor))
      throw new AppError("request.invalid", "The cursor is not one this API issued.");
    const page = await automationStub(c.env, c.get("tenantId")).listTriggers(q.limit, q.cursor ?? null);
    return c.json({ items: page.items, nextCursor: page.last }, 200);
  },
);

triggers.openapi(
  createRoute({
    method: "delete",
    operationId: "deleteTrigger",
    path: "/{id}",
    summary: "Delete a trigger (the runs it started stay)",
    security,
    request: {
      params: z.object({
        id: z
          .string()
          .max(64)
          .openapi({ param: { name: "id", in: "path" } }),
      }),
    },
    responses: { 204: { description: "deleted" }, ...problemResponses(...TENANT_CALL, "trigger.not_found") },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    if (!TRIGGER_ID.test(id) || !(await automationStub(c.env, c.get("tenantId")).deleteTrigger(id)))
      throw new AppError("trigger.not_found");
    return c.body(null, 204);
  },
);
