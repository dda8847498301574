/**
 * Pure parts of approval gates and signals: who may decide, what a signal's body must look like,
 * and how a recorded decision is shown. The engine (engine.ts) makes the changes.
 */
import type { Json, JsonObject } from "../../../schema/api";
import type { Decider, DeciderKey, DecisionView } from "../../../schema/run";
import { json } from "../sqlite";
import type { DecisionRow } from "./gate-table";
import { mismatches } from "../../lib/json-schema";

/** An approval step's input, as its declaration (schema/jobs/control.ts) parsed it. */
export interface ApprovalInput {
  title: string;
  description?: string;
  approvers?: { scopes?: string[]; keys?: string[]; allowRequester?: boolean };
  timeoutMs?: number;
  onTimeout?: "reject" | "approve" | "fail";
}

/** A signal step's input. */
export interface SignalInput {
  name: string;
  timeoutMs?: number;
  schema?: JsonObject;
  /** Woken by an event of this type whose paths hold these values (the run's input filled in). */
  event?: { type: string; match: Record<string, Json> };
  /** Its callback URL checks the sender's HMAC (header `header`, secret named by `secret.$secret`). */
  verify?: { header: string; secret: { $secret: string } };
}

/** A sleep step's input: a duration from when it begins waiting, or a time. */
export type SleepInput = { for: string } | { until: string };

/**
 * Why `key` may not decide a gate with these approvers, or null when it may. `requestedBy` is the
 * key that created the run: it may not decide unless the gate says `allowRequester`.
 */
export function approverRefusal(
  approvers: ApprovalInput["approvers"],
  key: DeciderKey,
  requestedBy: string | null = null,
): string | null {
  if (requestedBy !== null && key.keyId === requestedBy && approvers?.allowRequester !== true)
    return "the key that created this run may not decide its gates (the gate may say approvers.allowRequester)";
  if (approvers?.keys?.length && !approvers.keys.includes(key.keyId))
    return "this gate names the keys that may decide it, and this key is not one";
  const missing = (approvers?.scopes ?? []).filter((s) => !key.scopes.includes(s));
  return missing.length > 0 ? `this gate needs the scope(s) ${missing.join(", ")}` : null;
}

/** Whether a gate is decided by anyone holding a link: it names no keys and no scopes. */
export function linksAllowed(approvers: ApprovalInput["approvers"]): boolean {
  return !approvers?.keys?.length && !approvers?.scopes?.length;
}

export function decisionView(runId: string, row: DecisionRow, repeated: boolean): DecisionView {
  return {
    runId,
    stepId: row.step_id,
    decision: row.decision,
    by: json.read<Decider>(row.by) ?? { kind: "timeout" },
    comment: row.comment,
    decidedAt: new Date(row.decided_at).toISOString(),
    repeated,
  };
}

/** Who decided, for an event's data and a step's output. */
export function deciderData(by: Decider): JsonObject {
  return { ...by };
}

/**
 * Checks a signal's body against its JSON Schema (draft-07, src/lib/json-schema.ts: the same
 * validator as tenant job types). Returns the first mismatch as `path: message`, or null. A schema
 * the validator cannot use (a run created before schemas were checked at creation) is a mismatch.
 */
export function schemaMismatch(schema: JsonObject, value: Json, path = "body"): string | null {
  try {
    const [first] = mismatches(schema as Record<string, unknown>, value, path);
    return first ? `${first.path}: ${first.message}` : null;
  } catch (err) {
    return `${path}: the signal's schema cannot be used (${err instanceof Error ? err.message : String(err)})`;
  }
}
