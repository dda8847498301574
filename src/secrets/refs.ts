/**
 * `{ "$secret": "name" }` references in step inputs: finding them (at run creation, to refuse a
 * missing one), replacing them by their values (in the consumer, after `begin`), and redacting
 * those values from whatever the step hands back (output, logs, error) before it is stored.
 */
import { SECRET_NAME } from "../../schema/secrets";

export const isRef = (v: unknown): v is { $secret: string } =>
  typeof v === "object" &&
  v !== null &&
  !Array.isArray(v) &&
  Object.keys(v).length === 1 &&
  typeof (v as { $secret?: unknown }).$secret === "string";

/** The names of the secrets a JSON value references, each once. */
export function secretRefs(value: unknown, found = new Set<string>()): Set<string> {
  if (isRef(value)) {
    if (SECRET_NAME.test(value.$secret)) found.add(value.$secret);
  } else if (Array.isArray(value)) {
    for (const v of value) secretRefs(v, found);
  } else if (typeof value === "object" && value !== null) {
    for (const v of Object.values(value)) secretRefs(v, found);
  }
  return found;
}

/** The value with every reference replaced by its secret's value (each named one must be in `values`). */
export function substitute(value: unknown, values: ReadonlyMap<string, string>): unknown {
  if (isRef(value)) return values.get(value.$secret) ?? value;
  if (Array.isArray(value)) return value.map((v) => substitute(v, values));
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, values)]));
  return value;
}

/** What a redacted value becomes. */
export const REDACTED = "[redacted]";

/**
 * Every string inside `value` (keys too) with each secret value cut out. Longer values go first,
 * so a secret that contains another is not left half-visible.
 */
export function redact<T>(value: T, secrets: readonly string[]): T {
  const ordered = [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  if (ordered.length === 0) return value;
  const cut = (s: string) => ordered.reduce((text, secret) => text.split(secret).join(REDACTED), s);
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return cut(v);
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === "object" && v !== null)
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [cut(k), walk(x)]));
    return v;
  };
  return walk(value) as T;
}
