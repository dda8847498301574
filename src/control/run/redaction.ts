/**
 * Secrets in what a run is told, redacted before the run stores it (issue 33, finding 8): an
 * attempt's output, failure message and log lines, a signal's body, an approval's comment. What
 * the run stores is what its answers, events, webhooks and archive repeat, so this is the one
 * place to do it. Each call that redacted anything records one `secret.redacted` event.
 */
import type { Json, JsonObject } from "../../../schema/api";
import type { StepReport } from "../../../schema/run";
import { fingerprinter } from "../../artifacts/fingerprint";
import { type Fingerprint, mayHoldSecret, type Redaction, redactJson, redactText } from "../../artifacts/redact";
import { isRef } from "../../secrets/refs";

/** The most redactions one event lists (it counts them all). */
const MAX_LISTED = 50;

/**
 * Fingerprints under the tenant's key. Without FINGERPRINT_KEY a redaction still happens, only
 * without its fingerprint: a missing secret must not let a secret through.
 */
export function tenantFingerprint(key: string | undefined, tenantId: string): Fingerprint {
  if (!key) return async () => null;
  const fp = fingerprinter(key, tenantId);
  return (ruleId, secret) => fp.current(ruleId, secret);
}

/** A report with its output, error message and log lines redacted. */
export async function redactReport(
  report: StepReport,
  fingerprint: Fingerprint,
  found: Redaction[],
): Promise<StepReport> {
  // One pass over the whole report first: the usual report holds nothing the rules could match.
  // (JSON escaping never splits a token run or a credential word, so this flags no less.)
  const told = report.outcome === "succeeded" ? [report.output, report.spawn ?? null] : report.error.message;
  if (!mayHoldSecret(JSON.stringify([told, report.logs ?? null]))) return report;
  let logs: StepReport["logs"];
  if (report.logs) {
    logs = [];
    for (const [i, line] of report.logs.entries()) {
      const message = await redactText(line.message, `logs[${i}].message`, fingerprint, found);
      const fields = line.fields
        ? ((await redactJson(line.fields, `logs[${i}].fields`, fingerprint, found)) as JsonObject)
        : undefined;
      logs.push({ ...line, message, ...(fields ? { fields } : {}) });
    }
  }
  const common = logs ? { logs } : {};
  if (report.outcome === "succeeded") {
    const output = await redactJson(report.output, "output", fingerprint, found);
    const spawn = report.spawn && (await redactInputs(report.spawn, (s) => `spawn.${s.id}.input`, fingerprint, found));
    return { ...report, ...common, output, ...(spawn ? { spawn } : {}) };
  }
  const message = await redactText(report.error.message, "error.message", fingerprint, found);
  return { ...report, ...common, error: { ...report.error, message } };
}

/**
 * Step inputs (a new run's steps, the steps an attempt spawned), redacted. A `{ "$secret": name }`
 * reference stays as it is: it names a tenant secret, resolved in the consumer, and holds none.
 */
export async function redactInputs<T extends { id: string; input?: JsonObject }>(
  steps: T[],
  field: (step: T) => string,
  fingerprint: Fingerprint,
  found: Redaction[],
): Promise<T[]> {
  if (!mayHoldSecret(JSON.stringify(steps.map((s) => s.input ?? null)))) return steps;
  const out: T[] = [];
  for (const s of steps)
    out.push(s.input ? { ...s, input: (await redactInput(s.input, field(s), fingerprint, found)) as JsonObject } : s);
  return out;
}

/** `redactJson`, leaving secret references whole. */
async function redactInput(value: Json, field: string, fingerprint: Fingerprint, found: Redaction[], context = "") {
  if (isRef(value)) return value;
  if (Array.isArray(value)) {
    const out: Json[] = [];
    for (const [i, v] of value.entries()) out.push(await redactInput(v, `${field}[${i}]`, fingerprint, found));
    return out;
  }
  if (value === null || typeof value !== "object") return redactJson(value, field, fingerprint, found, context);
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = await redactText(k, `${field} (a key)`, fingerprint, found);
    out[key] = await redactInput(v, `${field}.${key}`, fingerprint, found, `${k}=`);
  }
  return out;
}

/** A signal's body, redacted. */
export const redactSignal = async (name: string, body: Json, fingerprint: Fingerprint, found: Redaction[]) =>
  mayHoldSecret(JSON.stringify(body)) ? redactJson(body, `signals.${name}.body`, fingerprint, found) : body;

/** An approval's comment, redacted. */
export const redactComment = async (comment: string | null, fingerprint: Fingerprint, found: Redaction[]) =>
  comment === null ? null : redactText(comment, "comment", fingerprint, found);

/** The `secret.redacted` event's data: where, by which rule, which fingerprint. Never a value. */
export function redactedEventData(found: Redaction[], extra: Record<string, unknown> = {}) {
  return { ...extra, redactions: found.slice(0, MAX_LISTED), count: found.length };
}
