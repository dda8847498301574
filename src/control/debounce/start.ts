/**
 * Starting a debounced run (docs/flow-control.md#debounce). The key's object names the pending
 * run; the first request of a window creates it (queued, waiting until `periodMs` after it), and
 * each later one hands it its graph and labels and pushes its start (`takeDebounced`), which the
 * run decides against its own timer: a request that comes after the run started settles the key
 * and opens the next window's run.
 */
import type { WireRun } from "../../../schema/api";
import { resolveDebounce, type RunDebounceSpec } from "../../../schema/debounce";
import { AppError } from "../../errors";
import type { Env } from "../../env";
import { sha256Hex } from "../../lib/crypto";
import { runStub } from "../run/stub";
import { type StartRequest, startRun } from "../start-run";
import { debounceStub } from "./stub";

export interface DebouncedStart {
  run: WireRun;
  /** An Idempotency-Key's replay. */
  replayed: boolean;
  /** A later request of the window: it joined the pending run rather than created it. */
  debounced: boolean;
}

/** Races the run's start at most this often (each lost race means the run started meanwhile). */
const MAX_TRIES = 5;

export async function startDebounced(env: Env, req: StartRequest, spec: RunDebounceSpec): Promise<DebouncedStart> {
  const { body, tenantId } = req;
  const resolved = resolveDebounce(spec, body.input ?? {});
  if (!resolved.ok)
    throw new AppError("request.invalid", `The debounce key cannot be resolved: ${resolved.error.message}.`, {
      errors: [resolved.error],
    });
  const key = resolved.key;
  const stub = debounceStub(env, tenantId, body.project, key);
  // The request's own Idempotency-Key is kept by the key's object: the tenant's opening is keyed by the run.
  const idempotency = req.idempotency
    ? { key: req.idempotency.key, bodyHash: req.idempotency.bodyHash ?? (await sha256Hex(JSON.stringify(body))) }
    : undefined;
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const claim = await stub.claim(idempotency);
    if ("conflict" in claim)
      throw new AppError("idempotency.conflict", "The Idempotency-Key was used with a different body.");
    const until = Date.now() + spec.periodMs;
    const create = () =>
      startRun(env, {
        ...req,
        runId: claim.runId,
        // Whoever creates the pending run (its first request, or one that found it missing after
        // the first died) opens it under one key: the tenant indexes and counts it once.
        idempotency: { key: `debounce:${claim.runId}`, bodyHash: claim.runId },
        debounce: { key, periodMs: spec.periodMs, until },
      });
    if (claim.fresh) {
      const made = await create();
      if (!made.replayed) return { run: made.run, replayed: false, debounced: false };
    }
    if (claim.replayed) {
      const run = await runStub(env, claim.runId).get(tenantId);
      if (run) return { run, replayed: true, debounced: !claim.fresh };
    }
    const took = await runStub(env, claim.runId).takeDebounced(tenantId, {
      steps: req.steps,
      ...(body.tags ? { tags: body.tags } : {}),
      ...(body.metadata ? { metadata: body.metadata } : {}),
      until,
    });
    if (took.result === "taken" && took.run) return { run: took.run, replayed: claim.replayed, debounced: true };
    if (took.result === "missing") {
      // The request that claimed the window died before creating its run: this one creates it.
      const made = await create();
      if (!made.replayed) return { run: made.run, replayed: claim.replayed, debounced: true };
      continue; // created meanwhile by its first request: take it on the next try
    }
    // Started (or ended) before this request reached it: the next window's run is opened.
    await stub.settle(claim.runId);
  }
  throw new Error(`debounce key ${key}: the pending run started ${MAX_TRIES} times while this request joined it`);
}

/** The API's start: a body naming `debounce` joins its key's window, any other starts a run. */
export async function startMaybeDebounced(env: Env, req: StartRequest): Promise<DebouncedStart> {
  if (req.body.debounce) return startDebounced(env, req, req.body.debounce);
  return { ...(await startRun(env, req)), debounced: false };
}
