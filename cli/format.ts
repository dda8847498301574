/** Human output shared by more than one command group. */
import type { ArtifactList, RetentionSettings, RunView } from "@factory-runtime/client";

/** A run on one line, then one line per failed step with its error. */
export function summary(run: RunView): string {
  const took =
    run.startedAt && run.finishedAt ? ` in ${Date.parse(run.finishedAt) - Date.parse(run.startedAt)} ms` : "";
  const failed = run.steps.map((s) => (s.error ? `\n  ${s.id}: ${s.error.message} (${s.error.code})` : "")).join("");
  const waiting = run.waiting ? `  waiting for ${run.waiting.reason} ${run.waiting.key}` : "";
  return `${run.id}  ${run.status}${waiting}${took}  ${run.steps.length} steps  project ${run.project}${failed}`;
}

/** One artifact per line: name, status, size, and each finding as rule at file:line:column. */
export function artifactLines(items: ArtifactList["items"]): string {
  return items
    .map((a) => {
      const scan = a.scan
        ? `  scanned ${a.scan.files} files${a.scan.state === "partial" ? " (partially)" : ""}, ${a.scan.findingsCount} finding(s)`
        : "";
      const findings = (a.scan?.findings ?? []).map(
        (f) => `\n    ${f.accepted ? "accepted " : ""}${f.ruleId} at ${f.file}:${f.line}:${f.column}  ${f.fingerprint}`,
      );
      return `${a.name}  ${a.status}${a.flagged ? " (flagged)" : ""}  ${a.size} B${scan}${findings.join("")}`;
    })
    .join("\n");
}

const days = (seconds: number) => (seconds % 86_400 === 0 ? `${seconds / 86_400} d` : `${seconds} s`);

/** The tenant's retention periods, then each project's. */
export function retentionLines(r: RetentionSettings): string {
  const line = (label: string, p: RetentionSettings["policy"]) =>
    `${label.padEnd(20)} hot ${days(p.runHotSeconds)} · archive ${days(p.archiveSeconds)} · unpublished ${days(p.unpublishedArtifactSeconds)} · superseded ${days(p.supersededArtifactSeconds)}`;
  return [line("(tenant)", r.policy), ...Object.entries(r.projects).map(([p, v]) => line(p, v))].join("\n");
}

/** A 20-character bar of a fraction (over 1: full, marked). */
export function meter(fraction: number): string {
  const filled = Math.max(0, Math.min(20, Math.round(fraction * 20)));
  return `[${"#".repeat(filled)}${".".repeat(20 - filled)}]${fraction > 1 ? "!" : " "}`;
}
