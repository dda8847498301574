/** What every API sub-app shares: its context type, the validation hook, problem responses. */
import { OpenAPIHono, type z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { Problem } from "../../schema/api";
import type { Env } from "../env";
import type { HeldLease } from "../control/pool/object";
import type { Credential } from "../control/tenant/object";
import { AppError, problems } from "../errors";
import { fieldErrors } from "../control/resolve";

/** An external worker's call, as `requireWorker` authorized it: its token, and the lease it holds if it named one. */
export interface WorkerCaller {
  tokenId: string;
  lease: (HeldLease & { id: string }) | null;
}

export interface AppEnv {
  Bindings: Env;
  /**
   * `credential`: a key whose check `requireTenant` deferred to the call that creates a run; set
   * only on that route, until it is checked.
   */
  Variables: { tenantId: string; traceId: string; worker: WorkerCaller; credential: Credential | undefined };
}

/** A sub-app whose zod validation failures become our problem+json, never a raw ZodError. */
export function newApi() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const where = result.target === "json" ? "body" : result.target;
        throw problems.invalid(`The request ${where} is invalid.`, fieldErrors(result.error));
      }
    },
  });
}

/** RFC 9457 problem+json for an AppError. */
export function problemResponse(c: Context, err: AppError): Response {
  const body: Problem = {
    type: `https://factory-runtime.dev/problems/${err.code}`,
    title: err.message,
    status: err.status,
    code: err.code,
    ...(err.errors?.length ? { errors: err.errors } : {}),
  };
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  if (err.retryAfterMs !== undefined) headers["retry-after"] = String(Math.ceil(err.retryAfterMs / 1000));
  return c.body(JSON.stringify(body), err.status as 400, headers);
}

/** A JSON response entry for the OpenAPI document. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

/** Response entries for the OpenAPI document: a problem for each listed status. */
export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: "problem", content: { "application/problem+json": { schema: Problem } } }]),
  );
}

/** The query's window: [from, to), 30 days back from now by default. */
export function timeWindow(q: { from?: string | undefined; to?: string | undefined }): { from: number; to: number } {
  const to = q.to ? Date.parse(q.to) : Date.now();
  return { from: q.from ? Date.parse(q.from) : to - 30 * 86_400_000, to };
}
