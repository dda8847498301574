/**
 * Pure parts of approval gates and signals: who may decide, what a signal's body must look like,
 * and how a recorded decision is shown. The engine (engine.ts) makes the changes.
 */
import type { Json, JsonObject } from "../../../schema/api";
import type { Decider, DeciderKey, DecisionView } from "../../../schema/run";
import { json } from "../sqlite";
import type { DecisionRow } from "./gate-table";

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

const TYPES = ["object", "array", "string", "number", "integer", "boolean", "null"] as const;

function typeOf(value: Json): (typeof TYPES)[number] {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value as "object" | "string" | "boolean";
}

/**
 * Checks a value against a JSON-schema subset (`type`, `properties`, `required`, `items`, `enum`,
 * `additionalProperties: false`); anything else in the schema is ignored. Returns the first
 * mismatch as `path: message`, or null.
 */
export function schemaMismatch(schema: JsonObject, value: Json, path = "body"): string | null {
  const want = schema.type;
  if (typeof want === "string" || Array.isArray(want)) {
    const wanted = (Array.isArray(want) ? want : [want]).filter((t): t is string => typeof t === "string");
    const got = typeOf(value);
    const fits = wanted.some((t) => t === got || (t === "number" && got === "integer"));
    if (!fits) return `${path}: expected ${wanted.join(" or ")}, got ${got}`;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((v) => JSON.stringify(v) === JSON.stringify(value)))
    return `${path}: not one of the allowed values`;
  if (typeOf(value) === "object") {
    const obj = value as JsonObject;
    const props = (schema.properties ?? {}) as Record<string, JsonObject>;
    for (const r of Array.isArray(schema.required) ? schema.required : []) {
      // Own properties only: `in` would let `{}` satisfy `required: ["constructor"]` through its prototype.
      if (typeof r === "string" && !Object.hasOwn(obj, r)) return `${path}.${r}: required`;
    }
    for (const [k, v] of Object.entries(obj)) {
      const sub = props[k];
      if (sub && typeof sub === "object") {
        const bad = schemaMismatch(sub, v, `${path}.${k}`);
        if (bad) return bad;
      } else if (schema.additionalProperties === false) return `${path}.${k}: not allowed`;
    }
  }
  if (Array.isArray(value) && schema.items && typeof schema.items === "object" && !Array.isArray(schema.items)) {
    for (const [i, item] of value.entries()) {
      const bad = schemaMismatch(schema.items as JsonObject, item, `${path}[${i}]`);
      if (bad) return bad;
    }
  }
  return null;
}
