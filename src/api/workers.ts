/**
 * /v1/pools/{pool}: the pull API for external workers. A worker leases a step (long poll),
 * heartbeats, uploads artifacts, and completes or fails it, with a pool-scoped worker token. A
 * lease id is a secret the pool's object issued to that token for one attempt of one of its own
 * steps: no other token, pool or attempt can be reached through it. The run's own object fences
 * every call exactly as for queue workers: a lease that lapsed (worker killed, network gone) is
 * superseded by a new attempt, and the old one's calls are refused.
 */
import { attemptSpan, spanIdOf, traceparentOf } from "../lib/trace";
import { createRoute, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { ArtifactName } from "../../schema/api";
import { artifactKey } from "../artifacts/keys";
import { fingerprinter } from "../artifacts/fingerprint";
import { createArtifactWriter, rejection, scanFor } from "../artifacts/writer";
import { parseWorkerToken } from "../lib/keys";
import type { HeldLease } from "../control/pool/object";
import { runStub } from "../control/run/stub";
import { EXTERNAL_POOLS } from "../../schema/pools";
import { AppError, toErrorShape, utf8Bytes } from "../errors";
import { LIMITS } from "../../schema/api";
import { sha256Hex } from "../lib/crypto";
import { bearer } from "./auth";
import { type AppEnv, JSON_BODY, json, newApi, problemResponses, TOKEN_CALL } from "./common";
import type { Artifact, ReportResult, StepReport } from "../../schema/run";
import { must } from "../lib/must";
import { workerCode } from "../../schema/errors";
import { LeaseBody } from "../../schema/workers";
import { mismatches } from "../lib/json-schema";
import { parseTenantWorkerToken } from "../lib/keys";

export const security = [{ worker: [] }];
const EXTERNAL: readonly string[] = EXTERNAL_POOLS;
const PoolParam = z.object({
  pool: z
    .string()
    .max(40)
    .openapi({ param: { name: "pool", in: "path" } }),
});
export const LeaseParam = PoolParam.extend({
  lease: z
    .string()
    .max(200)
    .openapi({ param: { name: "lease", in: "path" } }),
});

const Lease = z
  .object({
    id: z.string().openapi({
      description: "an opaque secret bound to this token and attempt: name it in every later call, show it to no one",
    }),
    runId: z.string(),
    stepId: z.string(),
    attempt: z.number().int(),
    type: z.string(),
    input: z.record(z.string(), z.unknown()),
    upstream: z.record(z.string(), z.unknown()),
    timeoutMs: z.number().int(),
    heartbeatTimeoutMs: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "heartbeat more often than this (null: the step's timeout is the only bound)" }),
    traceparent: z.string().openapi({
      description:
        "W3C traceparent naming this attempt's span (factory.job.execute): send it on the worker's own calls, so they join the run's trace",
    }),
  })
  .openapi("Lease");

/** `/v1/pools/{pool}/leases[/{lease}[/…]]`: the middleware runs before the sub-app parses params. */
const WORKER_PATH = /^\/v1\/pools\/([^/]+)\/leases(?:\/([^/]+))?(?:\/|$)/;

/** Whether a path is a worker's (a token's) rather than a tenant key's (its pools' management, ./pools.ts). */
export const isWorkerPath = (path: string): boolean => WORKER_PATH.test(path);

/**
 * The pool object a worker token reaches: a tenant's token (`fwt_<tenant>_<pool>_…`) its tenant's
 * pool `<tenant>:<pool>`, an operator's (`fwk_<pool>_…`) the `external` pool. The token names both,
 * so one call authorizes it; it must name the pool in the path.
 */
function poolObjectOf(token: string | null, pool: string): { object: string; id: string; secret: string } | null {
  const tenant = token ? parseTenantWorkerToken(token) : null;
  if (tenant) return tenant.pool === pool ? { object: `${tenant.tenantId}:${pool}`, ...tenant } : null;
  const parsed = token ? parseWorkerToken(token) : null;
  return parsed && parsed.pool === pool && EXTERNAL.includes(pool) ? { object: pool, ...parsed } : null;
}

/**
 * A worker token for the pool in the path, and, when the path names a lease, that lease held by
 * this token: one call to the pool's object decides both. Nothing else opens these routes.
 */
export const requireWorker: MiddlewareHandler<AppEnv> = async (c, next) => {
  const matched = WORKER_PATH.exec(c.req.path);
  if (!matched) return next(); // a tenant's management of its pools: its key, not a token
  const [, pool = "", leaseId = null] = matched;
  const found = poolObjectOf(bearer(c.req.header("authorization")), pool);
  if (!found) throw new AppError("auth.unauthenticated");
  const answer = await c.env.POOL.getByName(found.object).authorize(found.id, await sha256Hex(found.secret), leaseId);
  if (!answer.ok) throw new AppError("auth.unauthenticated");
  c.set("worker", {
    tokenId: found.id,
    object: found.object,
    lease: answer.lease && leaseId ? { ...answer.lease, id: leaseId } : null,
  });
  await next();
};

/** The lease this worker's token holds, as the middleware found it; anything else is a 404. */
export function held(c: Context<AppEnv>): HeldLease & { id: string } {
  const lease = c.get("worker").lease;
  if (!lease) throw new AppError("lease.not_found");
  return lease;
}

/** The run refused the attempt (stale, superseded, run over): to the worker, whatever the reason, its lease is over. */
const stopped = (message: string) => new AppError("lease.lapsed", `This lease is no longer current: ${message}`);

/** The attempt is over for this lease: it is forgotten, so a replay of it finds nothing. */
export async function lapsed(c: Context<AppEnv>, l: HeldLease & { id: string }, message: string): Promise<never> {
  await poolOf(c).release(l.id);
  throw stopped(message);
}

/** The pool object the worker's token belongs to (set by `requireWorker`; a tenant's pool is named `<tenant>:<pool>`). */
export const poolOf = (c: Context<AppEnv>) => c.env.POOL.getByName(c.get("worker").object);

/** A tenant job type's output that does not fit its pinned schema: the attempt fails for good. */
function invalidOutput(invalid: readonly { path: string; message: string }[]) {
  const where = invalid
    .slice(0, 3)
    .map((i) => `${i.path}: ${i.message}`)
    .join("; ");
  return {
    code: "step.invalid_output" as const,
    message: `The output does not fit the job type's schema: ${where}`.slice(0, 2_000),
    retryable: false,
  };
}

export const workers = newApi();

workers.openapi(
  createRoute({
    method: "post",
    operationId: "leaseStep",
    path: "/{pool}/leases",
    summary: "Lease the next step of the pool (long poll); 204 when none arrived in time",
    security,
    request: {
      params: PoolParam,
      body: {
        required: false,
        content: {
          "application/json": {
            schema: LeaseBody,
          },
        },
      },
    },
    responses: {
      200: json(z.object({ lease: Lease }), "a step to run"),
      204: { description: "nothing to do yet" },
      ...problemResponses(...TOKEN_CALL, ...JSON_BODY),
    },
  }),
  async (c) => {
    const body = c.req.valid("json") as Partial<LeaseBody> | undefined;
    const waitMs = body?.waitMs ?? 10_000;
    const deadline = Date.now() + waitMs;
    const worker = c.get("worker");
    const objects = poolOf(c);
    const capabilities = {
      kinds: body?.kinds ?? null,
      labels: body?.labels ?? {},
      workerId: body?.workerId ?? worker.tokenId,
    };
    for (;;) {
      const taken = await objects.take(worker.tokenId, Math.max(0, deadline - Date.now()), capabilities);
      if (!taken) return c.body(null, 204);
      const { message, leaseId: id } = taken;
      const begun = await runStub(c.env, message.runId).begin(message.stepId, message.attempt);
      if (!begun.ok) {
        await objects.release(id); // stale or finished: take the next one
        continue;
      }
      return c.json(
        {
          lease: {
            id,
            runId: message.runId,
            stepId: message.stepId,
            attempt: message.attempt,
            type: message.type,
            input: begun.input,
            upstream: begun.upstream,
            timeoutMs: begun.timeoutMs,
            heartbeatTimeoutMs: begun.heartbeatTimeoutMs ?? null,
            traceparent: traceparentOf(
              begun.traceId,
              spanIdOf(message.runId, attemptSpan(message.stepId, message.attempt)),
            ),
          },
        },
        200,
      );
    }
  },
);

workers.openapi(
  createRoute({
    method: "post",
    operationId: "heartbeatLease",
    path: "/{pool}/leases/{lease}/heartbeat",
    summary: "Keep a lease alive; 409 means stop",
    security,
    request: { params: LeaseParam },
    responses: {
      200: json(z.object({ ok: z.literal(true) }), "alive"),
      ...problemResponses(...TOKEN_CALL, "lease.not_found", "lease.lapsed"),
    },
  }),
  async (c) => {
    const l = held(c);
    const answer = await runStub(c.env, l.runId).heartbeat(l.stepId, l.attempt);
    if (!answer.ok) return lapsed(c, l, answer.message);
    return c.json({ ok: true as const }, 200);
  },
);

workers.openapi(
  createRoute({
    method: "put",
    operationId: "uploadLeaseArtifact",
    path: "/{pool}/leases/{lease}/artifacts/{name}",
    summary: "Upload an artifact of the leased attempt (the body is its bytes)",
    security,
    request: { params: LeaseParam.extend({ name: ArtifactName.openapi({ param: { name: "name", in: "path" } }) }) },
    responses: {
      201: json(z.object({ name: z.string(), size: z.number().int(), sha256: z.string() }), "stored"),
      ...problemResponses(...TOKEN_CALL, "lease.not_found", "lease.lapsed", "request.too_large"),
    },
  }),
  async (c) => {
    const { pool, name } = c.req.valid("param");
    const l = held(c);
    const scope = await runStub(c.env, l.runId).attemptScope(l.stepId, l.attempt, pool);
    if (!scope) return lapsed(c, l, "the attempt is not running");
    const writer = createArtifactWriter(
      c.env.ARTIFACTS,
      {
        tenantId: scope.tenantId,
        runId: l.runId,
        stepId: l.stepId,
        attempt: l.attempt,
        // Scanned when the result names it, with every other artifact, before anything is reported.
      },
      null,
      fingerprinter(c.env.FINGERPRINT_KEY, scope.tenantId),
    );
    const record = await writer.put(
      name,
      new Uint8Array(await c.req.arrayBuffer()),
      c.req.header("content-type") ?? "application/octet-stream",
    );
    return c.json({ name: record.name, size: record.size, sha256: record.sha256 }, 201);
  },
);

/** What the worker's `ctx.log` gathered: step.log events of the attempt (the run keeps the first 50). */
const Logs = z
  .array(
    z
      .object({
        level: z.enum(["info", "warn", "error"]),
        message: z.string().max(2_000),
        fields: z.record(z.string(), z.unknown()).optional(),
      })
      .strict(),
  )
  .max(50)
  .optional();

const Outcome = z.discriminatedUnion("outcome", [
  z
    .object({
      outcome: z.literal("succeeded"),
      output: z.record(z.string(), z.unknown()).default({}),
      artifacts: z.array(ArtifactName).max(100).default([]),
      logs: Logs,
    })
    .strict(),
  z
    .object({
      outcome: z.literal("failed"),
      error: z.object({ code: z.string().max(100), message: z.string().max(2_000), retryable: z.boolean() }).strict(),
      logs: Logs,
    })
    .strict(),
]);

workers.openapi(
  createRoute({
    method: "post",
    operationId: "reportLeaseResult",
    path: "/{pool}/leases/{lease}/result",
    summary: "Report the leased attempt's outcome; artifacts are named, and must have been uploaded",
    security,
    request: { params: LeaseParam, body: { required: true, content: { "application/json": { schema: Outcome } } } },
    responses: {
      200: json(
        z.object({
          ok: z.literal(true),
          invalidOutput: z
            .array(z.object({ path: z.string(), message: z.string() }))
            .optional()
            .openapi({
              description: "the output did not fit the job type's schema: the attempt failed (step.invalid_output)",
            }),
        }),
        "recorded",
      ),
      ...problemResponses(...TOKEN_CALL, ...JSON_BODY, "lease.not_found", "lease.lapsed"),
    },
  }),
  async (c) => {
    const { pool } = c.req.valid("param");
    const l = held(c);
    const body = c.req.valid("json");
    const run = runStub(c.env, l.runId);
    const scope = await run.attemptScope(l.stepId, l.attempt, pool);
    if (!scope) return lapsed(c, l, "the attempt is not running");
    let answer: ReportResult;
    // Parsed from JSON, so the fields are JSON values: what a report's log lines carry.
    const logs = body.logs as StepReport["logs"];
    // A tenant job type's output is checked against the version the run pinned: a bad one fails the attempt for good.
    const invalid = body.outcome === "succeeded" && scope.output ? mismatches(scope.output, body.output, "output") : [];
    if (invalid.length > 0) {
      answer = await run.report({
        stepId: l.stepId,
        attempt: l.attempt,
        outcome: "failed",
        error: invalidOutput(invalid),
      });
    } else if (body.outcome === "failed") {
      answer = await run.report({
        stepId: l.stepId,
        attempt: l.attempt,
        outcome: "failed",
        error: { ...body.error, code: workerCode(body.error.code) },
        ...(logs ? { logs } : {}),
      });
    } else {
      if (utf8Bytes(JSON.stringify(body.output)) > LIMITS.outputBytes)
        throw new AppError("request.invalid", `outputs are limited to ${LIMITS.outputBytes} bytes`);
      // The manifest is built from what R2 holds for this attempt, never from the worker's word.
      const artifacts: Artifact[] = [];
      const fingerprints = fingerprinter(c.env.FINGERPRINT_KEY, scope.tenantId);
      for (const name of body.artifacts) {
        const key = artifactKey(
          { tenantId: scope.tenantId, runId: l.runId, stepId: l.stepId, attempt: l.attempt },
          name,
        );
        const object = await c.env.ARTIFACTS.get(key);
        if (!object?.customMetadata?.sha256)
          throw new AppError("request.invalid", `artifact '${name}' was not uploaded for this lease`);
        const bytes = new Uint8Array(await object.arrayBuffer());
        const artifact: Artifact = {
          name,
          key,
          size: object.size,
          contentType: object.httpMetadata?.contentType ?? "application/octet-stream",
          sha256: object.customMetadata.sha256,
        };
        // The same scan as the data plane's writer, here in the API's Worker: never in the run's object.
        artifacts.push({ ...artifact, ...(await scanFor(fingerprints, artifact, bytes, scope.scanning)) });
      }
      const rejected = artifacts.filter((a) => a.status === "rejected");
      if (rejected.length > 0) {
        // Blocked: the bytes go, the step fails for good, and the manifest lists why.
        await c.env.ARTIFACTS.delete(rejected.map((a) => a.key));
        answer = await run.report({
          stepId: l.stepId,
          attempt: l.attempt,
          outcome: "failed",
          error: toErrorShape(rejection(must(rejected[0], "a rejected artifact"))),
          rejected,
        });
      } else {
        answer = await run.report({
          stepId: l.stepId,
          attempt: l.attempt,
          outcome: "succeeded",
          output: body.output as never,
          artifacts,
          ...(logs ? { logs } : {}),
        });
      }
    }
    // Reported (or refused): the lease is spent either way; the worker's book counts what it reported.
    await poolOf(c).release(l.id, invalid.length > 0 ? "failed" : body.outcome);
    if (!answer.ok) throw stopped(answer.message);
    return c.json(invalid.length > 0 ? { ok: true as const, invalidOutput: invalid } : { ok: true as const }, 200);
  },
);
