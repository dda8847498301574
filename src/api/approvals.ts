/**
 * Approval gates and signals: deciding a gate (`…/steps/{stepId}/approve|reject`, scope
 * approvals:grant), sending a signal (`…/signals/{name}`), and the tenant's approvals across runs
 * (`GET /v1/approvals`). The decisions are made by the run's object; the list is the tenant's.
 */
import { httpRequest } from "./http-span";
import { createRoute, z } from "@hono/zod-openapi";
import {
  ApprovalList,
  DecisionBody,
  DecisionLinksView,
  DecisionView,
  type Json,
  ListApprovalsQuery,
  SignalView,
  StepId,
} from "../../schema/api";
import { MAX_EARLY_SIGNAL_BYTES, MAX_EARLY_SIGNALS, MAX_SIGNAL_BYTES, SIGNAL_NAME } from "../../schema/jobs/control";
import { RUN_ID } from "../../schema/ids";
import type { GateDecision } from "../../schema/run";
import { runStub } from "../control/run/stub";
import { AppError, utf8Bytes } from "../errors";
import { JSON_BODY, json, newApi, problemResponses, TENANT_CALL } from "./common";
import { decodeApprovalCursor, encodeApprovalCursor } from "./cursor";
import { missingRun } from "./archived-runs";

const security = [{ bearer: [] }];
const RunParam = z
  .string()
  .max(64)
  .openapi({ param: { name: "id", in: "path" }, example: "run_01jdz3k7m9q2w8e4r6t0y1u3i5" });

function run(env: Parameters<typeof runStub>[0], id: string) {
  if (!RUN_ID.test(id)) throw new AppError("run.not_found");
  return runStub(env, id);
}

/** Routes under /v1/runs/{id}: decisions and signals. */
export const gates = newApi();

for (const decision of ["approve", "reject"] as const) {
  const recorded: GateDecision = decision === "approve" ? "approved" : "rejected";
  gates.openapi(
    createRoute({
      method: "post",
      operationId: `${decision}Step`,
      path: `/{id}/steps/{stepId}/${decision}`,
      summary: `${decision === "approve" ? "Approve" : "Reject"} a waiting approval gate (scope approvals:grant)`,
      description:
        "The first decision wins: the same decision again answers 200 with the recorded one; the opposite one " +
        "answers 409 approval.already_decided; a gate that is not waiting answers 409 approval.not_pending.",
      security,
      request: {
        params: z.object({ id: RunParam, stepId: StepId.openapi({ param: { name: "stepId", in: "path" } }) }),
        body: { required: false, content: { "application/json": { schema: DecisionBody } } },
      },
      responses: {
        200: json(DecisionView, "the decision (recorded now, or earlier)"),
        ...problemResponses(
          ...TENANT_CALL,
          ...JSON_BODY,
          "run.not_found",
          "run.archived",
          "run.archived",
          "approval.not_found",
          "approval.not_pending",
          "approval.already_decided",
          "approval.not_an_approver",
        ),
      },
    }),
    async (c) => {
      const { id, stepId } = c.req.valid("param");
      const body = c.req.valid("json") ?? {};
      const result = await run(c.env, id).decide(
        c.get("tenantId"),
        stepId,
        recorded,
        c.get("key"),
        body.comment ?? null,
        httpRequest(c, `/v1/runs/{id}/steps/{stepId}/${decision}`, 200),
      );
      if (!result) throw await missingRun(c.env, c.get("tenantId"), id);
      if (!result.ok) throw AppError.from(result);
      return c.json(result.decision, 200);
    },
  );
}

gates.openapi(
  createRoute({
    method: "get",
    operationId: "getDecisionLinks",
    path: "/{id}/steps/{stepId}/links",
    summary: "Signed single-use decision links for a waiting approval gate (scope approvals:grant)",
    description:
      "A fresh pair on each call, each redeemable once (POST /v1/decisions/{token}) until the gate's timeout and " +
      "recorded with the key it was issued to. Refused (403 approval.not_an_approver) to a key that may not decide " +
      "the gate: not one of its approvers, or the key that created the run unless the gate says approvers.allowRequester.",
    security,
    request: { params: z.object({ id: RunParam, stepId: StepId.openapi({ param: { name: "stepId", in: "path" } }) }) },
    responses: {
      200: json(DecisionLinksView, "the links"),
      ...problemResponses(
        ...TENANT_CALL,
        "run.not_found",
        "approval.not_found",
        "approval.not_pending",
        "approval.not_an_approver",
      ),
    },
  }),
  async (c) => {
    const { id, stepId } = c.req.valid("param");
    const result = await run(c.env, id).decisionLinks(c.get("tenantId"), stepId, c.get("key"));
    if (!result) throw await missingRun(c.env, c.get("tenantId"), id);
    if (!result.ok) throw AppError.from(result);
    const { ok: _, ...links } = result;
    return c.json(links, 200);
  },
);

gates.openapi(
  createRoute({
    method: "post",
    operationId: "sendSignal",
    path: "/{id}/signals/{name}",
    summary: "Send the run a signal: its JSON body becomes the output of the step that waits for it",
    description:
      `A signal sent before its step waits is kept for it. The first body wins: the same body again answers 200, ` +
      `another one 409 signal.already_received. Bodies are at most ${MAX_SIGNAL_BYTES} bytes. A run keeps at most ` +
      `${MAX_EARLY_SIGNALS} signals (${MAX_EARLY_SIGNAL_BYTES} bytes) that no step has taken yet (429 signal.limit); a name ` +
      `no step can ever wait for (no signal step of that name, no unfinished worker step that could spawn one) is 404 signal.unknown.`,
    security,
    request: {
      params: z.object({
        id: RunParam,
        name: z
          .string()
          .regex(SIGNAL_NAME)
          .openapi({ param: { name: "name", in: "path" }, example: "build-finished" }),
      }),
      body: { required: false, content: { "application/json": { schema: z.unknown() } } },
    },
    responses: {
      200: json(SignalView, "the signal, received now or before"),
      ...problemResponses(
        ...TENANT_CALL,
        ...JSON_BODY,
        "run.not_found",
        "run.finished",
        "signal.already_received",
        "signal.invalid_body",
        "signal.too_large",
        "signal.limit",
        "signal.unknown",
      ),
    },
  }),
  async (c) => {
    const { id, name } = c.req.valid("param");
    const text = await c.req.text();
    const body = (text.length === 0 ? null : JSON.parse(text)) as Json; // jsonBodies checked it
    if (utf8Bytes(text) > MAX_SIGNAL_BYTES) throw new AppError("signal.too_large");
    const key = c.get("key");
    const result = await run(c.env, id).signal(
      c.get("tenantId"),
      name,
      body,
      {
        kind: "key",
        keyId: key.keyId,
        name: key.name,
      },
      httpRequest(c, "/v1/runs/{id}/signals/{name}", 200),
    );
    if (!result) throw await missingRun(c.env, c.get("tenantId"), id);
    if (!result.ok) throw AppError.from(result);
    const { ok: _, ...receipt } = result;
    return c.json(receipt, 200);
  },
);

/** GET /v1/approvals: the tenant's approval gates across runs, from its object. */
export const approvals = newApi();

approvals.openapi(
  createRoute({
    method: "get",
    operationId: "listApprovals",
    path: "/",
    summary: "The tenant's approval gates across runs: pending (oldest first) or decided (newest first)",
    security,
    request: { query: ListApprovalsQuery },
    responses: {
      200: json(ApprovalList, "a page of approvals"),
      ...problemResponses(...TENANT_CALL),
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const cursor = q.cursor !== undefined ? decodeApprovalCursor(q.cursor) : undefined;
    if (cursor === null) throw new AppError("request.invalid", "The cursor is not one this API issued.");
    const page = await c.env.TENANT.getByName(c.get("tenantId")).listApprovals({
      status: q.status,
      limit: q.limit,
      ...(q.project ? { project: q.project } : {}),
      ...(cursor ? { cursor } : {}),
    });
    return c.json({ items: page.items, nextCursor: page.next ? encodeApprovalCursor(page.next) : null }, 200);
  },
);
