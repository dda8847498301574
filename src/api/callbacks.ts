/**
 * /v1/callbacks/{token}: a waiting signal step's callback URL (its `step.waiting` event carries
 * it). `POST` with no API key sends the signal the step waits for, the body as its output, with
 * the same checks as `POST /v1/runs/{id}/signals/{name}`: the same body again is 200, another is
 * 409. The token is the credential, bound to its tenant, run, step and signal name, and valid as
 * long as the step may wait. A step's `verify` makes the sender's own HMAC header required too
 * (./callback-verify.ts): a missing or wrong one is 401 and leaves the step as it was.
 */
import { httpRequest } from "./http-span";
import { createRoute, z } from "@hono/zod-openapi";
import { SignalView, type Json } from "../../schema/api";
import { RUN_ID } from "../../schema/ids";
import { MAX_SIGNAL_BYTES } from "../../schema/jobs/control";
import { runStub } from "../control/run/stub";
import { AppError, utf8Bytes } from "../errors";
import { readCallback } from "../lib/decision-links";
import { checkSignature } from "./callback-verify";
import { JSON_BODY, json, newApi, problemResponses } from "./common";

export const callbacks = newApi();

callbacks.openapi(
  createRoute({
    method: "post",
    operationId: "completeCallback",
    path: "/{token}",
    summary: "Complete a waiting signal step through its callback URL (no API key)",
    security: [], // the URL's signed token is its credential
    request: {
      params: z.object({
        token: z
          .string()
          .max(4096)
          .openapi({ param: { name: "token", in: "path" } }),
      }),
      body: { required: false, content: { "application/json": { schema: z.unknown() } } },
    },
    responses: {
      200: json(SignalView, "the signal, received now or before"),
      ...problemResponses(
        ...JSON_BODY,
        "callback.invalid",
        "callback.expired",
        "callback.bad_signature",
        "run.finished",
        "signal.already_received",
        "signal.invalid_body",
        "signal.too_large",
      ),
    },
  }),
  async (c) => {
    const secret = c.env.DECISION_LINK_SECRET;
    const claims = secret ? readCallback(secret, c.req.valid("param").token) : null;
    if (!claims || !RUN_ID.test(claims.runId)) throw new AppError("callback.invalid");
    if (claims.expiresAt <= Date.now()) throw new AppError("callback.expired");
    const text = await c.req.text();
    if (utf8Bytes(text) > MAX_SIGNAL_BYTES) throw new AppError("signal.too_large");
    if (claims.verify)
      await checkSignature(c.env, claims.tenantId, claims.verify, c.req.header(claims.verify.header), text);
    const body = (text.length === 0 ? null : JSON.parse(text)) as Json; // jsonBodies checked it
    const result = await runStub(c.env, claims.runId).signal(
      claims.tenantId,
      claims.name,
      body,
      {
        kind: "link",
        linkId: `callback:${claims.stepId}`,
      },
      httpRequest(c, "/v1/callbacks/{token}", 200),
    );
    // The run is gone (archived, purged) or is not the tenant's: the URL leads nowhere.
    if (!result) throw new AppError("callback.invalid");
    if (!result.ok) throw AppError.from(result);
    c.set("auditNote", {
      tenantId: claims.tenantId,
      action: "gate.signal",
      actor: `callback:${claims.runId}/${claims.stepId}`,
      target: `run:${claims.runId}/signal:${claims.name}`,
    });
    const { ok: _, ...receipt } = result;
    return c.json(receipt, 200);
  },
);
