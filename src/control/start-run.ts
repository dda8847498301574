/**
 * Starting a run: the one path every starter takes (the API's `POST /v1/runs`, a schedule's fire,
 * an event's trigger). One call to the tenant (its shard) opens the run: the Idempotency-Key's
 * claim, the quota, the budget, the index entry and admission; then the run's object is created.
 * A replayed key answers the run its first request made, which is what makes a schedule's fire
 * (key `schedule:{id}:{fireTime}`) start exactly one run however often it is retried.
 */
import type { CreateRunBody, RunOrigin, WireRun } from "../../schema/api";
import type { HttpRequestRecord, ResolvedStep } from "../../schema/run";
import { resolveConcurrency } from "../../schema/flow";
import type { RunDebounce } from "../../schema/debounce";
import { AppError } from "../errors";
import type { Env } from "../env";
import { newRunId, sha256Hex } from "../lib/crypto";
import { runStub } from "./run/stub";
import { tenantHasCollector } from "./telemetry/collectors";
import { type OpenAuth, openOnShard } from "./tenant/open-on-shard";
import type { RunRequester } from "./tenant/run-audit";

export interface StartRequest {
  tenantId: string;
  /** The request as validated (a schedule or trigger keeps one; its callback is the API's alone). */
  body: Omit<CreateRunBody, "callback">;
  /** `body` resolved (src/control/resolve.ts) by the caller, which answers its refusal its own way. */
  steps: ResolvedStep[];
  traceId: string;
  /** The API request that creates the run (its `http.server` span); a schedule's or trigger's run has none. */
  request?: HttpRequestRecord;
  auth: OpenAuth;
  idempotency?: { key: string; bodyHash?: string };
  origin?: RunOrigin;
  /** The id of the API key that asked (a schedule or trigger: none): by default it may not decide the run's gates. */
  requestedBy?: string;
  /** Who asked and from where, for the audit trail; a schedule's or trigger's run names it from `origin`. */
  requester?: Omit<RunRequester, "traceId">;
  /** The run's id, chosen by its debounce key's object (src/control/debounce/start.ts); otherwise a new one. */
  runId?: string;
  /** The run's debounce, resolved: it waits until `until` before it may start. */
  debounce?: RunDebounce;
  /** Between the tenant's opening and the run's creation: the API makes a run's callback endpoint here. */
  beforeCreate?: (runId: string, replayed: boolean) => Promise<void>;
}

/** Opens and creates the run; throws the tenant's refusal (quota, budget, idempotency conflict) as an AppError. */
export async function startRun(env: Env, req: StartRequest): Promise<{ run: WireRun; replayed: boolean }> {
  const { body, tenantId } = req;
  const createdAt = Date.now();
  const idempotency = req.idempotency
    ? { key: req.idempotency.key, bodyHash: req.idempotency.bodyHash ?? (await sha256Hex(JSON.stringify(body))) }
    : undefined;
  // A key naming a missing input refuses the run before anything is written.
  const flow = resolveConcurrency(body.concurrency, body.input ?? {});
  if (!flow.ok)
    throw new AppError("request.invalid", `The concurrency key cannot be resolved: ${flow.error.message}.`, {
      errors: [flow.error],
    });
  const requester = requesterOf(req);
  // Asked beside the opening (an isolate's cache answers most), so it adds no wait to it.
  const collector = tenantHasCollector(env, tenantId);
  const { opened, shard } = await openOnShard(
    env,
    tenantId,
    {
      runId: req.runId ?? newRunId(),
      project: body.project,
      blueprint: body.blueprint ?? null,
      priority: body.priority,
      createdAt,
      requester,
      search: {
        requestedBy: requester.actor,
        ...(body.tags?.length ? { tags: body.tags } : {}),
        ...(body.metadata && Object.keys(body.metadata).length ? { metadata: body.metadata } : {}),
      },
    },
    idempotency,
    req.auth,
  );
  const { runId, replayed, costSaving } = opened;
  // A spent budget in cost-saving mode: agent steps ask for the cheaper model (their input records it).
  const steps =
    costSaving?.model != null
      ? req.steps.map((s) => (s.pool === "agent" ? { ...s, input: { ...s.input, model: costSaving.model } } : s))
      : req.steps;
  await req.beforeCreate?.(runId, replayed);
  // create() is idempotent on the run id: a replay returns the run the first request made.
  const run = await runStub(env, runId).create({
    id: runId,
    tenantId,
    project: body.project,
    blueprint: body.blueprint ?? null,
    failurePolicy: body.failurePolicy,
    priority: costSaving?.priority ?? body.priority,
    traceId: req.traceId,
    ...(body.deadlineMs ? { deadlineMs: body.deadlineMs } : {}),
    steps,
    scanning: opened.scanning,
    retention: opened.retention,
    ...(shard > 0 ? { tenantShard: shard } : {}),
    ...(req.origin && req.origin.kind !== "api" ? { origin: req.origin } : {}),
    ...(req.requestedBy ? { requestedBy: req.requestedBy } : {}),
    ...(body.tags?.length ? { tags: body.tags } : {}),
    ...(body.metadata ? { metadata: body.metadata } : {}),
    ...(flow.keys.length > 0 ? { concurrency: flow.keys } : {}),
    ...(req.debounce ? { debounce: req.debounce } : {}),
    ...((await collector) ? { collector: true } : {}),
    ...(req.request ? { request: req.request } : {}),
    // A replay may find no run (the first request died before creating it): that one is
    // created the ordinary way, telling the tenant its status and asking for admission.
    ...(replayed ? {} : { opened: { start: opened.start }, createdAt }),
  });
  return { run, replayed };
}

/** The audit trail's actor of a new run: the API's key, or the schedule or trigger that started it. */
function requesterOf(req: StartRequest): RunRequester {
  const origin = req.origin;
  const actor =
    origin?.kind === "schedule"
      ? `schedule:${origin.id}`
      : origin?.kind === "event"
        ? `trigger:${origin.triggerId}`
        : (req.requester?.actor ?? "runtime");
  return { actor, ip: req.requester?.ip ?? null, userAgent: req.requester?.userAgent ?? null, traceId: req.traceId };
}
