/** What every API sub-app shares: its context type, the validation hook, problem responses. */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { Problem } from "../../schema/api";
import type { Env } from "../env";
import type { HeldLease } from "../control/pool/object";
import type { Credential } from "../control/tenant/object";
import type { DeciderKey } from "../../schema/run";
import type { AuditNote } from "../../schema/audit";
import { AppError } from "../errors";
import { httpStatus, type ApiErrorCode, type ErrorCode } from "../../schema/errors";
import { fieldErrors, type FieldError, type ProblemExtensions } from "../../schema/errors";

/** An external worker's call, as `requireWorker` authorized it: its token, and the lease it holds if it named one. */
export interface WorkerCaller {
  tokenId: string;
  /** The pool object its token reaches: `external`, or a tenant's `<tenant>:<pool>`. */
  object: string;
  lease: (HeldLease & { id: string }) | null;
}

export interface AppEnv {
  Bindings: Env;
  /**
   * `credential`: a key whose check `requireTenant` deferred to the call that creates a run; set
   * only on that route, until it is checked.
   */
  Variables: {
    tenantId: string;
    traceId: string;
    worker: WorkerCaller;
    credential: Credential | undefined;
    /** The verified key of a tenant call (not set on the run-creating call, which the tenant checks itself). */
    key: DeciderKey;
    /** A change its route records in the audit trail itself (./audit-trail.ts). */
    auditNote: AuditNote | undefined;
    /** When the request arrived: the start of its `http.server` span (./http-span.ts). */
    startedAt: number;
  };
}

/** A sub-app whose zod validation failures become our problem+json, never a raw ZodError. */
export function newApi() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const where = result.target === "json" ? "body" : result.target;
        throw new AppError("request.invalid", `The request ${where} is invalid.`, {
          errors: fieldErrors(result.error),
        });
      }
    },
  });
}

/** What a problem+json answer is made of: an AppError, or the parts of a refusal that is not ours to name. */
export interface ProblemSource {
  /** A registry code; `http.<status>` only for the framework's own refusals (app.ts `onError`). */
  code: ErrorCode | `http.${number}`;
  message: string;
  status: number;
  errors?: FieldError[] | undefined;
  retryAfterMs?: number | undefined;
  /** artifact.rejected: the scan's findings and what it did not scan. */
  findings?: Problem["findings"];
  notScanned?: Problem["notScanned"];
  extensions?: ProblemExtensions | undefined;
}

/** RFC 9457 problem+json. */
export function problemResponse(c: Context, err: ProblemSource): Response {
  const body: Problem = {
    type: `https://factory-runtime.dev/problems/${err.code}`,
    title: err.message,
    status: err.status,
    code: err.code,
    ...(err.errors?.length ? { errors: err.errors } : {}),
    ...(err.findings ? { findings: err.findings } : {}),
    ...(err.notScanned ? { notScanned: err.notScanned } : {}),
    ...err.extensions,
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

/** What any tenant route may answer before its handler runs: the headers, the key, its tenant's state and rate. */
export const TENANT_CALL = [
  "request.invalid",
  "auth.unauthenticated",
  "auth.insufficient_scope",
  "tenant.suspended",
  "rate.limited",
] as const satisfies ApiErrorCode[];

/** The same for a route behind a worker token or the admin token. */
export const TOKEN_CALL = ["request.invalid", "auth.unauthenticated"] as const satisfies ApiErrorCode[];

/** What reading a JSON body may answer (`bodyLimit`, `jsonBodies`, validation). */
export const JSON_BODY = [
  "request.invalid",
  "request.malformed_json",
  "request.too_deep",
  "request.too_large",
  "request.unsupported_media_type",
] as const satisfies ApiErrorCode[];

/**
 * Response entries for the OpenAPI document: the codes a route may answer, one problem response
 * per status the registry gives them, whose `code` is one of them.
 */
export function problemResponses(...codes: ApiErrorCode[]) {
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const code of new Set(codes)) byStatus.set(httpStatus(code), [...(byStatus.get(httpStatus(code)) ?? []), code]);
  return Object.fromEntries(
    [...byStatus]
      .sort(([a], [b]) => a - b)
      .map(([status, list]) => [
        status,
        {
          description: `problem: ${list.join(", ")}`,
          content: {
            "application/problem+json": {
              schema: Problem.extend({ code: z.enum(list as [ApiErrorCode, ...ApiErrorCode[]]) }),
            },
          },
        },
      ]),
  );
}

/** The query's window: [from, to), 30 days back from now by default. */
export function timeWindow(q: { from?: string | undefined; to?: string | undefined }): { from: number; to: number } {
  const to = q.to ? Date.parse(q.to) : Date.now();
  return { from: q.from ? Date.parse(q.from) : to - 30 * 86_400_000, to };
}

/** An artifact's bytes streamed from R2, with the headers every download answers with. */
export function artifactDownload(
  object: R2ObjectBody,
  a: { name: string; contentType: string; size: number; sha256: string },
): Response {
  return new Response(object.body, {
    headers: {
      "content-type": a.contentType,
      "content-length": String(a.size),
      "content-disposition": `attachment; filename="${a.name}"`,
      etag: `"${a.sha256}"`,
      "x-content-sha256": a.sha256,
    },
  });
}
