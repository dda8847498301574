/** The HTTPS API: one Hono app mounting a sub-app per resource, one error handler. */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { ErrorHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { LIMITS } from "../../schema/api";
import { AppError } from "../errors";
import { traceIdFrom } from "../lib/crypto";
import { logError } from "../lib/log";
import { requireAdmin, requireTenant } from "./auth";
import { problemResponse, type AppEnv } from "./common";
import { admin } from "./admin";
import { adminAudit, audit } from "./audit";
import { auditTrail } from "./audit-trail";
import { scanning } from "./scanning";
import { projects } from "./projects";
import { cleanHeaders, jsonBodies } from "./hostile";
import { blueprints, budgets, health, metrics, retention, usage } from "./misc";
import { runs } from "./runs";
import { schedules } from "./schedules";
import { secrets } from "./secrets";
import { telemetry } from "./telemetry";
import { requestClock } from "./http-span";
import { events, triggers } from "./events";
import { approvals, gates } from "./approvals";
import { runDeletion } from "./run-deletion";
import { operations } from "./operations";
import { decisions } from "./decisions";
import { callbacks } from "./callbacks";
import { webhooks } from "./webhooks";
import { workerRelease } from "./worker-release";
import { isWorkerPath, requireWorker, workers } from "./workers";
import { pools } from "./pools";
import { jobTypes } from "./job-types";

export const OPENAPI_INFO = {
  openapi: "3.1.0",
  info: {
    title: "Factory Runtime API",
    version: "1.0.0",
    description:
      "Runs step graphs that generate software, on Cloudflare Workers. Errors are RFC 9457 problem+json with a stable `code`.",
    // Not open source: SPDX names a licence of its own with a LicenseRef- identifier.
    license: { name: "Proprietary", identifier: "LicenseRef-Proprietary" },
  },
  // Mutable, as the document builder's type wants (the object is `as const`).
  servers: [
    { url: "/", description: "The deployment serving this document" },
    { url: "http://127.0.0.1:8787", description: "The local runtime (`npm start`)" },
  ] as { url: string; description: string }[],
} as const;

export function createApp() {
  const app = new OpenAPIHono<AppEnv>();

  app.use("/v1/*", requestClock);
  app.use("/v1/*", cleanHeaders);
  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: LIMITS.bodyBytes,
      onError: () => {
        throw new AppError("request.too_large", `The body exceeds ${LIMITS.bodyBytes} bytes.`);
      },
    }),
  );
  app.use("/v1/admin/*", requireAdmin);
  app.use("/v1/pools/*", requireWorker);
  // Decision links carry their own credential: the signed token.
  app.use("/v1/*", async (c, next) =>
    /^\/v1\/(admin|decisions|callbacks)\//.test(c.req.path) || isWorkerPath(c.req.path)
      ? next()
      : requireTenant(c, next),
  );
  // Only an authenticated caller gets its body read, except when creating a run: a well-formed
  // key's body is read and validated first, and the key is checked by the one tenant call that
  // opens the run (two object calls per new run became one). Nothing costlier than validation
  // (a callback URL's name resolution, a run's creation) happens before the key is verified.
  app.use("/v1/*", jsonBodies);
  app.use("/v1/*", auditTrail);

  app.route("/", health);
  app.route("/v1", operations);
  app.route("/v1/runs", runs);
  app.route("/v1/runs", gates);
  app.route("/v1/runs", runDeletion);
  app.route("/v1/approvals", approvals);
  app.route("/v1/schedules", schedules);
  app.route("/v1/events", events);
  app.route("/v1/triggers", triggers);
  app.route("/v1/decisions", decisions);
  app.route("/v1/callbacks", callbacks);
  app.route("/v1/blueprints", blueprints);
  app.route("/v1/webhooks", webhooks);
  app.route("/v1/secrets", secrets);
  app.route("/v1/telemetry", telemetry);
  app.route("/v1/usage", usage);
  app.route("/v1/projects", projects);
  app.route("/v1/budgets", budgets);
  app.route("/v1/retention", retention);
  app.route("/v1/metrics", metrics);
  app.route("/v1/pools", workers);
  app.route("/v1/pools", workerRelease);
  app.route("/v1/pools", pools);
  app.route("/v1/job-types", jobTypes);
  app.route("/v1/admin", admin);
  app.route("/v1/admin", scanning);
  app.route("/v1/audit", audit);
  app.route("/v1/admin", adminAudit);

  registerSecuritySchemes(app);
  app.doc31("/openapi.json", OPENAPI_INFO);

  app.notFound((c) => problemResponse(c, new AppError("route.not_found", `No route ${c.req.method} ${c.req.path}.`)));
  app.onError(problemForError);
  return app;
}

/** The credentials the document names: tenant keys, pool worker tokens, the admin token. */
function registerSecuritySchemes(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "a tenant API key",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "worker", {
    type: "http",
    scheme: "bearer",
    description: "a pool-scoped worker token (fwk_…)",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "admin", {
    type: "http",
    scheme: "bearer",
    description: "the ADMIN_TOKEN secret",
  });
}

/** Every error the API raises, as problem+json: ours by their code, anything else as `internal`. */
const problemForError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof AppError) return problemResponse(c, err);
  if (err instanceof HTTPException && err.status === 400 && /json/i.test(err.message)) {
    return problemResponse(c, new AppError("request.malformed_json"));
  }
  // The framework's own refusals are not ours to name: they keep a generic code per status.
  if (err instanceof HTTPException && err.status < 500) {
    return problemResponse(c, { code: `http.${err.status}`, message: err.message, status: err.status });
  }
  logError("api.unhandled", {
    method: c.req.method,
    path: c.req.path,
    tenantId: c.get("tenantId"),
    traceId: traceIdFrom(c.req.header("traceparent")) ?? undefined,
    error: String(err),
  });
  return problemResponse(c, new AppError("internal"));
};
