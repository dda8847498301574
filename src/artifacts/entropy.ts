/**
 * The one home-made rule: a `password=`/`secret:`-style assignment whose value looks random
 * (Shannon entropy per character), unless it is an obvious placeholder or a reference to where
 * the real value lives (an environment variable, a template slot, a member expression).
 */
export const HIGH_ENTROPY_RULE = "factory/high-entropy-assignment";

const KEY =
  "[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)[A-Za-z0-9_-]*";
const ASSIGNMENT = new RegExp(
  String.raw`(?<![A-Za-z0-9_])["']?(${KEY})["']?\s*(?:=|:|=>)\s*(["'\x60]?)([^\s"'\x60,;)}\]]{12,256})\2`,
  "gi",
);

const MIN_ENTROPY = 3.5;

/** Values that are plainly not secrets: placeholders, and references to where a secret lives. */
const PLACEHOLDER =
  /^(?:x+|\*+|\.+|<[^>]*>?|\$\{[^}]*\}?|\{\{[^}]*(?:\}\})?|%[^%]*%|\$[A-Z_][A-Z0-9_]*|(?:process\.env|env|os\.environ|c\.env|this\.env|secrets|vars|import\.meta\.env)\b.*|.*(?:example|placeholder|changeme|change[-_]me|dummy|sample|your[-_]|redacted|not[-_]?a[-_]?secret|xxxx).*)$/i;

/** `a.b.c`, or a call such as `randomBytes(24).toString(`: code that computes a value, not a value. */
const CODE = /^[A-Za-z_$][\w$]*(?:\??\.[A-Za-z_$][\w$]*|\[[^\]]*\])+$|^[A-Za-z_$][\w$.]*\(/;

export function entropy(value: string): number {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

export function isPlaceholder(value: string): boolean {
  return PLACEHOLDER.test(value) || CODE.test(value);
}

/** Each suspicious assignment's value: its 1-based line and column, and the value itself. */
export function findHighEntropyAssignments(content: string): { line: number; column: number; secret: string }[] {
  const hits: { line: number; column: number; secret: string }[] = [];
  for (const m of content.matchAll(ASSIGNMENT)) {
    const value = m[3] ?? "";
    if (isPlaceholder(value) || entropy(value) < MIN_ENTROPY) continue;
    const index = (m.index ?? 0) + m[0].lastIndexOf(value);
    const before = content.lastIndexOf("\n", index - 1);
    let line = 1;
    for (let i = content.indexOf("\n"); i !== -1 && i < index; i = content.indexOf("\n", i + 1)) line++;
    hits.push({ line, column: index - before, secret: value });
  }
  return hits;
}
