/**
 * The secret rules, one place for every caller: secretlint's recommended rule set plus the
 * high-entropy assignment rule (./entropy.ts). The artifact scan (./scan.ts) and the redaction of
 * text fields (./redact.ts) apply the same rules.
 */
import { findHighEntropyAssignments, HIGH_ENTROPY_RULE } from "./entropy";

/**
 * secretlint, loaded on the first text an isolate checks: an isolate that never does (a pool
 * whose jobs write no artifacts, a run object whose texts all pass the pre-filter) never
 * evaluates its rule set.
 */
let secretlint: Promise<typeof import("./secretlint")> | undefined;

export interface Hit {
  ruleId: string;
  line: number;
  column: number;
  /** The matched text: used to fingerprint and to redact, never stored. */
  secret: string;
}

/** Every rule's matches in one text, located by 1-based line and column. */
export async function findSecrets(file: string, content: string): Promise<Hit[]> {
  secretlint ??= import("./secretlint");
  const result = await (await secretlint).lint(file, content, extOf(file));
  const hits: Hit[] = result.messages
    .filter((m) => m.type === "message")
    .map((m) => ({
      ruleId: m.ruleId,
      line: m.loc.start.line,
      column: m.loc.start.column + 1,
      secret: content.slice(m.range[0], m.range[1]),
    }));
  // A value the maintained rules named already is not reported twice.
  const lines = new Set(hits.map((h) => h.line));
  for (const h of findHighEntropyAssignments(content))
    if (!lines.has(h.line)) hits.push({ ruleId: HIGH_ENTROPY_RULE, ...h });
  return hits;
}

function extOf(file: string): string {
  const base = file.slice(file.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot) : "";
}
