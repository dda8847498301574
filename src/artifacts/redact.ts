/**
 * Redaction of secrets in text that a run stores (step outputs, failure messages, log lines,
 * signal bodies, approval comments): the artifact scan's rules (./rules.ts), each match replaced
 * by `[REDACTED <ruleId> <fingerprint>]`. Pure apart from the fingerprint's HMAC; usable by the
 * control plane (it imports nothing of the data plane).
 *
 * Most text holds no secret, and secretlint costs about a millisecond a call: a linear
 * pre-filter (`mayHoldSecret`) lets ordinary text through untouched, and only a string it flags
 * goes to the rules. The pre-filter must flag everything a rule can match; it flags:
 *   - a run of 16+ token characters ([A-Za-z0-9_+/=.-]) holding an upper-case letter or a digit
 *     (every vendor token the rules know: AWS, GitHub, Slack, npm, OpenAI, Anthropic, Stripe, …);
 *   - `-----BEGIN` (private keys), `://…@` (basic auth, connection strings);
 *   - a credential word (password, secret, token, key, auth, …): the high-entropy assignment rule
 *     and docker's `auth` entries.
 */
import type { Json } from "../../schema/api";
import { findSecrets } from "./rules";

/** Where a secret was redacted: a field path, the rule, the fingerprint. Never the value. */
export interface Redaction {
  field: string;
  ruleId: string;
  fingerprint: string | null;
}

/** A rule id and secret's fingerprint, or null when fingerprints cannot be made (no key). */
export type Fingerprint = (ruleId: string, secret: string) => Promise<string | null>;

const MIN_TOKEN = 16;
const WORDS =
  /-----BEGIN|:\/\/[^\s/]*@|passw(?:or)?d|pwd|secret|token|api[_-]?key|access[_-]?key|private|credential|auth/i;

/** True when `text` may hold a secret: the rules must look. False: no rule can match it. */
export function mayHoldSecret(text: string): boolean {
  if (text.length < 8) return false;
  let run = 0;
  let strong = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const upperOrDigit = (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
    const token =
      upperOrDigit || (c >= 97 && c <= 122) || c === 95 || c === 43 || c === 47 || c === 61 || c === 46 || c === 45;
    if (!token) {
      run = 0;
      strong = false;
      continue;
    }
    run++;
    strong ||= upperOrDigit;
    if (run >= MIN_TOKEN && strong) return true;
  }
  return WORDS.test(text);
}

/**
 * `text` with each secret replaced, and a Redaction per secret found (pushed to `found`). The
 * rules read `context + text` (an object's key: `password=` + value), and only `text` changes.
 */
export async function redactText(
  text: string,
  field: string,
  fingerprint: Fingerprint,
  found: Redaction[],
  context = "",
): Promise<string> {
  if (!mayHoldSecret(context + text)) return text;
  const hits = await findSecrets("text.txt", context + text);
  if (hits.length === 0) return text;
  // Longest first: a secret that contains another is replaced whole.
  hits.sort((a, b) => b.secret.length - a.secret.length);
  let out = text;
  for (const hit of hits) {
    if (hit.secret.length === 0 || !out.includes(hit.secret)) continue;
    const fp = await fingerprint(hit.ruleId, hit.secret);
    out = out.replaceAll(hit.secret, `[REDACTED ${hit.ruleId}${fp ? ` ${fp}` : ""}]`);
    found.push({ field, ruleId: hit.ruleId, fingerprint: fp });
  }
  return out;
}

/**
 * A JSON value with every string (keys too) redacted. An object's string value is read as
 * `key=value`, so `{"password": "Zq8r…"}` meets the assignment rule as a file's line would.
 */
export async function redactJson(
  value: Json,
  field: string,
  fingerprint: Fingerprint,
  found: Redaction[],
  context = "",
): Promise<Json> {
  if (typeof value === "string") return redactText(value, field, fingerprint, found, context);
  if (Array.isArray(value)) {
    const out: Json[] = [];
    for (const [i, v] of value.entries()) out.push(await redactJson(v, `${field}[${i}]`, fingerprint, found));
    return out;
  }
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = await redactText(k, `${field} (a key)`, fingerprint, found);
    out[key] = await redactJson(v, `${field}.${key}`, fingerprint, found, `${k}=`);
  }
  return out;
}
