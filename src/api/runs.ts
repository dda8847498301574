/** /v1/runs: create, list, read, cancel; a run's events and artifacts. */
import { httpRequest } from "./http-span";
import { createRoute, z } from "@hono/zod-openapi";
import {
  ArtifactList,
  CreateRunBody,
  CreatedRun,
  EventPage,
  EventsQuery,
  ListRunsQuery,
  RunList,
  RunUsageView,
  RunView,
  type WireRun,
} from "../../schema/api";
import { resolveOptions, type Env } from "../env";
import { cost, prices } from "../analytics/prices";
import type { RunControl } from "../control/run/object";
import { RUN_REFUSAL } from "../control/run/machine";
import { runStub, type RunStub } from "../control/run/stub";
import { isSafeSegment } from "../artifacts/keys";
import { resolveRun } from "../control/resolve";
import { tenantJobsOf } from "./run-job-types";
import { AppError } from "../errors";
import { newRunId, newTraceId, sha256Hex, traceIdFrom } from "../lib/crypto";
import { streamSSE } from "hono/streaming";
import { apiAuth, verifyKey } from "./auth";
import { artifactDownload, JSON_BODY, newApi, problemResponse, problemResponses, TENANT_CALL } from "./common";
import { checkUrl } from "./webhooks";
import { checkSecretRefs } from "./secrets";
import { checkDeliveryUrls, delivers } from "./delivery";
import { EventTypePattern } from "../../schema/webhooks";
import { RUN_ID } from "../../schema/ids";
import { decodeCursor, encodeCursor } from "./cursor";
import { archiveOrNotFound, missingRun, readArchive } from "./archived-runs";
import { archivedEvents, archivedRun } from "../control/run/archive-format";
import { startMaybeDebounced } from "../control/debounce/start";
import { requestMeta } from "./audit-trail";
import { parseRunFilter } from "../../schema/search";

const IdParam = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "run_01jdz3k7m9q2w8e4r6t0y1u3i5" }),
});
/** A live event stream is closed after this long; clients reconnect with Last-Event-ID. */
const STREAM_MAX_MS = 10 * 60_000;
const security = [{ bearer: [] }];
const notFound = () => new AppError("run.not_found");

/** Widens a run's JSON-typed outputs to the schema's `unknown` (hono's typing recurses on JSON). */
const asView = (run: WireRun): RunView => run;

/** The run's object, for a well-formed id only; a malformed id is just a run that does not exist. */
function ownedRun(env: Env, id: string): RunStub {
  if (!RUN_ID.test(id)) throw notFound();
  return runStub(env, id);
}

export const runs = newApi();

runs.openapi(
  createRoute({
    method: "post",
    operationId: "createRun",
    path: "/",
    summary: "Start a run from a blueprint or an explicit step graph",
    security,
    request: {
      headers: z.object({ "idempotency-key": z.string().min(1).max(200).optional() }),
      body: { required: true, content: { "application/json": { schema: CreateRunBody } } },
    },
    responses: {
      202: { description: "accepted; Location names the run", content: { "application/json": { schema: CreatedRun } } },
      ...problemResponses(
        ...TENANT_CALL,
        ...JSON_BODY,
        "blueprint.not_found",
        "blueprint.invalid_input",
        "step.unknown_type",
        "step.type_disabled",
        "run.invalid_graph",
        "step.invalid_input",
        "duration.invalid",
        "idempotency.conflict",
        "quota.exceeded",
        "budget.exceeded",
        "secret.not_found",
        "secret.external_pool",
      ),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const resolved = resolveRun(body, resolveOptions(c.env), await tenantJobsOf(c, body));
    if (!resolved.ok) throw resolved.error;
    if (body.callback) {
      const bad = body.callback.eventTypes.findIndex((t) => !EventTypePattern.safeParse(t).success);
      if (bad >= 0)
        throw new AppError("request.invalid", "The callback's event types are invalid.", {
          errors: [{ path: `callback.eventTypes.${bad}`, message: "not an event type" }],
        });
    }
    // Name resolution and the secrets' lookup are work for the key's tenant alone: the deferred key check comes first.
    const referencesSecrets = resolved.steps.some((st) => JSON.stringify(st.input).includes('"$secret"'));
    if (body.callback || referencesSecrets || delivers(resolved.steps)) await verifyKey(c);
    if (referencesSecrets) await checkSecretRefs(c.env, c.get("tenantId"), resolved.steps);
    if (delivers(resolved.steps)) await checkDeliveryUrls(c.env, resolved.steps);
    // Checked (names resolved) after the cheap checks; stored in its canonical form.
    const callbackSpec = body.callback
      ? { ...body.callback, url: await checkUrl(c.env, body.callback.url, "callback.url") }
      : null;
    const tenantId = c.get("tenantId");
    // Who asks: checked already, or by openRun below. Its gates will not take its decision.
    const credential = c.get("credential");
    const requestedBy = credential ? ("dev" in credential ? "dev" : credential.keyId) : c.get("key").keyId;
    const idempotencyKey = c.req.valid("header")["idempotency-key"];
    const made: { callback?: { endpoint: { id: string }; secret: string } } = {};
    const { run, replayed, debounced } = await startMaybeDebounced(c.env, {
      tenantId,
      body,
      steps: resolved.steps,
      traceId: traceIdFrom(c.req.header("traceparent")) ?? newTraceId(),
      request: httpRequest(c, "/v1/runs", 202),
      auth: apiAuth(c),
      ...(idempotencyKey
        ? { idempotency: { key: idempotencyKey, bodyHash: await sha256Hex(JSON.stringify(body)) } }
        : {}),
      // The run's own callback endpoint exists before its first event. Not on a replay: its
      // secret was shown once, to the first request.
      beforeCreate: async (runId, replayed) => {
        if (callbackSpec && !replayed)
          made.callback = await c.env.TENANT.getByName(tenantId).createWebhook(
            { ...callbackSpec, description: `callback of ${runId}` },
            runId,
          );
      },
      requestedBy,
      requester: requestMeta(c, `key:${requestedBy}`),
    });
    const runId = run.id;
    c.header("location", `/v1/runs/${runId}`);
    if (replayed) c.header("idempotent-replayed", "true");
    if (debounced) c.header("debounced", "true"); // joined its debounce key's pending run
    return c.json(
      {
        ...asView(run),
        ...(made.callback ? { callback: { endpointId: made.callback.endpoint.id, secret: made.callback.secret } } : {}),
      },
      202,
    );
  },
);

runs.openapi(
  createRoute({
    method: "get",
    operationId: "listRuns",
    path: "/",
    summary: "List the tenant's runs, newest first",
    security,
    request: { query: ListRunsQuery },
    responses: {
      200: { description: "a page of runs", content: { "application/json": { schema: RunList } } },
      ...problemResponses(...TENANT_CALL),
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const cursor = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
    if (cursor === null) throw new AppError("request.invalid", "The cursor is not one this API issued.");
    // The query string as sent: `metadata.<key>` pairs, repeated names, and unknown names (refused).
    const parsed = parseRunFilter([...new URL(c.req.url).searchParams]);
    if (!parsed.ok)
      throw new AppError("request.invalid", `The filter is invalid: ${parsed.path}: ${parsed.message}.`, {
        errors: [{ path: parsed.path, message: parsed.message }],
      });
    const page = await c.env.TENANT.getByName(c.get("tenantId")).listRuns({
      filter: parsed.filter,
      limit: q.limit,
      ...(cursor ? { cursor } : {}),
    });
    return c.json({ items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null }, 200);
  },
);

runs.openapi(
  createRoute({
    method: "get",
    operationId: "getRun",
    path: "/{id}",
    summary: "A run with its steps",
    security,
    request: { params: IdParam },
    responses: {
      200: { description: "the run", content: { "application/json": { schema: RunView } } },
      ...problemResponses(...TENANT_CALL, "run.not_found"),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const tenantId = c.get("tenantId");
    const run = (await ownedRun(c.env, id).get(tenantId)) ?? archivedRun(await archiveOrNotFound(c.env, tenantId, id));
    const template = c.env.TRACE_URL_TEMPLATE;
    const traceUrl = template ? template.replaceAll("{traceId}", encodeURIComponent(run.traceId)) : null;
    return c.json({ ...asView(run), traceUrl }, 200);
  },
);

const CONTROLS: Record<RunControl, string> = {
  cancel: "Cancel a run: nothing new starts, running handlers are told to stop, late results are refused",
  pause: "Pause a run: nothing new is dispatched; attempts already sent may finish",
  resume: "Resume a paused run: dispatch what the pause held back",
};

for (const [action, summary] of Object.entries(CONTROLS) as [RunControl, string][]) {
  runs.openapi(
    createRoute({
      method: "post",
      operationId: `${action}Run`,
      path: `/{id}/${action}`,
      summary,
      security,
      request: { params: IdParam },
      responses: {
        200: { description: "the run after the change", content: { "application/json": { schema: RunView } } },
        ...problemResponses(...TENANT_CALL, "run.not_found", RUN_REFUSAL[action], "run.archived"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const result = await ownedRun(c.env, id).control(
        c.get("tenantId"),
        action,
        `key:${c.get("key").keyId}`,
        httpRequest(c, `/v1/runs/{id}/${action}`, 200),
      );
      if (!result) throw await missingRun(c.env, c.get("tenantId"), id);
      if (!result.ok) throw AppError.from(result);
      return c.json(asView(result.run), 200);
    },
  );
}

runs.openapi(
  createRoute({
    method: "post",
    operationId: "retryRun",
    path: "/{id}/retry",
    summary: "Re-run a failed or cancelled run: a new run that keeps the succeeded steps' outputs and artifacts",
    description: "Idempotent: retrying the same run again returns the run the first retry created.",
    security,
    request: { params: IdParam },
    responses: {
      202: { description: "the new run; Location names it", content: { "application/json": { schema: RunView } } },
      ...problemResponses(...TENANT_CALL, "run.not_found", "run.not_retryable", "run.archived"),
    },
  }),
  async (c) => {
    const tenantId = c.get("tenantId");
    const candidate = newRunId();
    const sourceId = c.req.valid("param").id;
    const source = await ownedRun(c.env, sourceId).retrySource(tenantId, candidate);
    // An archived run keeps its record, not the step inputs and outputs a retry is built from.
    if (!source) throw await missingRun(c.env, tenantId, sourceId);
    if (!source.ok) throw AppError.from(source);
    const id = source.existing ?? candidate;
    const run = await runStub(c.env, id).create({
      ...source.spec,
      // The key that asks for the retry is the new run's requester.
      requestedBy: c.get("key").keyId,
      id,
      traceId: traceIdFrom(c.req.header("traceparent")) ?? newTraceId(),
      request: httpRequest(c, "/v1/runs/{id}/retry", 202),
    });
    c.header("location", `/v1/runs/${id}`);
    return c.json(asView(run), 202);
  },
);

runs.openapi(
  createRoute({
    method: "get",
    operationId: "listRunEvents",
    path: "/{id}/events",
    summary: "The run's event log, in order: a JSON page, or live as text/event-stream",
    description:
      "With `Accept: text/event-stream` the log is streamed: each event is an SSE message whose `id` is its `seq` " +
      "(reconnect with `Last-Event-ID` to resume) and whose `event` is its type. The stream ends after the run's final event.",
    security,
    request: { params: IdParam, query: EventsQuery },
    responses: {
      200: {
        description: "a page of events, or the live stream",
        content: { "application/json": { schema: EventPage }, "text/event-stream": { schema: z.string() } },
      },
      ...problemResponses(...TENANT_CALL, "run.not_found"),
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const { id } = c.req.valid("param");
    const run = ownedRun(c.env, id);
    const tenantId = c.get("tenantId");
    /** A page from the run's object, or from its archive once the object is empty (then the last page is final). */
    const page = async (after: number, limit: number, waitMs?: number): Promise<z.infer<typeof EventPage>> =>
      (await run.events(tenantId, after, limit, waitMs)) ??
      archivedEvents(await archiveOrNotFound(c.env, tenantId, id), after, limit);
    const first = await page(q.after, q.limit);
    if (!c.req.header("accept")?.includes("text/event-stream")) return c.json(first, 200);

    const resumeFrom = Number(c.req.header("last-event-id"));
    return streamSSE(c, async (stream) => {
      let after = Number.isInteger(resumeFrom) && resumeFrom > 0 ? resumeFrom : q.after;
      const closeAt = Date.now() + STREAM_MAX_MS;
      while (!stream.aborted && Date.now() < closeAt) {
        // Long poll: the run object answers as soon as something happens, or after 20 s.
        const next = await page(after, 500, 20_000);
        for (const e of next.items) {
          await stream.writeSSE({ id: String(e.seq), event: e.type, data: JSON.stringify(e) });
          after = e.seq;
        }
        if (next.finished) return;
      }
    });
  },
);

runs.openapi(
  createRoute({
    method: "get",
    operationId: "getRunUsage",
    path: "/{id}/usage",
    summary: "What the run used, in total and per pool, and what it cost (so far, until it ends)",
    security,
    request: { params: IdParam },
    responses: {
      200: { description: "usage", content: { "application/json": { schema: RunUsageView } } },
      ...problemResponses(...TENANT_CALL, "run.not_found"),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const tenantId = c.get("tenantId");
    const found = (await ownedRun(c.env, id).usage(tenantId)) ?? (await archiveOrNotFound(c.env, tenantId, id)).usage;
    const table = prices(c.env.PRICE_TABLE);
    const { pools, ...totals } = found.usage;
    const priced = Object.fromEntries(
      Object.entries(pools).map(([pool, u]) => [pool, { ...u, costUsd: cost(u, table) }]),
    );
    return c.json(
      {
        runId: id,
        final: found.final,
        ...totals,
        costUsd: cost(totals, table),
        waitingMs: found.waitingMs,
        pools: priced,
      },
      200,
    );
  },
);

runs.openapi(
  createRoute({
    method: "get",
    operationId: "listRunArtifacts",
    path: "/{id}/artifacts",
    summary: "The run's artifact manifest",
    security,
    request: { params: IdParam },
    responses: {
      200: { description: "artifacts", content: { "application/json": { schema: ArtifactList } } },
      ...problemResponses(...TENANT_CALL, "run.not_found"),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const tenantId = c.get("tenantId");
    const items =
      (await ownedRun(c.env, id).artifacts(tenantId)) ??
      (await archiveOrNotFound(c.env, tenantId, id)).artifacts.map(({ key: _, ...view }) => view);
    return c.json({ items }, 200);
  },
);

runs.openapi(
  createRoute({
    method: "get",
    operationId: "downloadRunArtifact",
    path: "/{id}/artifacts/{name}",
    summary: "Download one artifact (streamed from R2)",
    security,
    request: {
      params: IdParam.extend({
        name: z
          .string()
          .max(256)
          .openapi({ param: { name: "name", in: "path" } }),
      }),
    },
    responses: {
      200: {
        description: "the artifact's bytes",
        content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
      },
      ...problemResponses(...TENANT_CALL, "run.not_found", "artifact.not_found", "artifact.rejected"),
    },
  }),
  async (c) => {
    const { id, name } = c.req.valid("param");
    const missing = () => new AppError("artifact.not_found");
    if (!isSafeSegment(name)) throw missing();
    const tenantId = c.get("tenantId");
    const entry =
      (await ownedRun(c.env, id).artifact(tenantId, name)) ??
      (await readArchive(c.env, tenantId, id))?.artifacts.find((a) => a.name === name);
    if (!entry) throw missing();
    if (entry.status === "rejected") {
      // Its bytes were never stored: say why, with the findings (rule, file, line, fingerprint).
      const refused = new AppError("artifact.rejected");
      return problemResponse(c, {
        code: refused.code,
        message: refused.message,
        status: refused.status,
        findings: entry.scan?.findings ?? [],
        notScanned: (entry.scan?.notScanned ?? []).filter((n) => n.reason !== "binary"),
      });
    }
    const object = await c.env.ARTIFACTS.get(entry.key);
    if (!object) throw missing();
    return artifactDownload(object, entry);
  },
);
