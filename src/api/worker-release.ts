/**
 * POST /v1/pools/{pool}/leases/{lease}/release: a worker gives its leased step back (it is shutting
 * down). The run ends that attempt as `released` and dispatches the step again at once as a new
 * attempt, without counting it against the retry policy; the lease is spent. Fenced like every
 * other lease call: a lease whose attempt is no longer current gets `lease.lapsed`, a spent or
 * unknown one `lease.not_found`.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { runStub } from "../control/run/stub";
import { json, newApi, problemResponses, TOKEN_CALL } from "./common";
import { held, LeaseParam, lapsed, poolOf, security } from "./workers";

export const workerRelease = newApi();

workerRelease.openapi(
  createRoute({
    method: "post",
    operationId: "releaseLease",
    path: "/{pool}/leases/{lease}/release",
    summary: "Give the leased step back: it is dispatched again at once, its retry budget unchanged",
    security,
    request: { params: LeaseParam },
    responses: {
      200: json(z.object({ ok: z.literal(true) }), "released; the step is dispatched again"),
      ...problemResponses(...TOKEN_CALL, "lease.not_found", "lease.lapsed"),
    },
  }),
  async (c) => {
    const l = held(c);
    const answer = await runStub(c.env, l.runId).release(l.stepId, l.attempt);
    if (!answer.ok) return lapsed(c, l, answer.message);
    await poolOf(c).release(l.id); // the attempt is over: a replay finds nothing
    return c.json({ ok: true as const }, 200);
  },
);
