/**
 * The Run DO as its callers use it. Every method takes and returns plain structured-clone
 * data, so the stub is typed with the class's own signatures: mapping them through the RPC
 * types would recurse without bound on the recursive JSON type of step outputs.
 */
import type { Env } from "../../env";
import type { RunObject } from "./object";

export type RunStub = Pick<
  RunObject,
  | "create"
  | "get"
  | "events"
  | "artifacts"
  | "artifact"
  | "control"
  | "retrySource"
  | "start"
  | "granted"
  | "holdsKey"
  | "takeDebounced"
  | "stepGranted"
  | "holdsStepKey"
  | "begin"
  | "heartbeat"
  | "release"
  | "attemptScope"
  | "noteUnroutable"
  | "report"
  | "deadLettered"
  | "backlog"
  | "usage"
  | "decide"
  | "signal"
  | "redeemLink"
  | "decisionLinks"
  | "purge"
  | "backfillArchive"
>;

export function runStub(env: Env, runId: string): RunStub {
  return env.RUN.getByName(runId) as unknown as RunStub;
}
