/**
 * A run's artifacts table: name, status (validated, rejected, published; flagged when kept under
 * the warn policy), size, type, step, sha256, the secret scan's findings (rule, file, line — the
 * API never holds the secret), and a download button for those with bytes.
 */
import type { ArtifactView } from "../../../schema/api";
import { h, pill } from "../dom";
import { formatBytes } from "../format";

/** Findings shown per artifact; the rest are counted. */
const SHOWN = 10;

function scanCell(a: ArtifactView): HTMLElement {
  const scan = a.scan;
  if (!scan) return h("td", { class: "muted" }, "not scanned");
  const summary = `${scan.files} files · ${scan.findingsCount} finding${scan.findingsCount === 1 ? "" : "s"}${
    scan.state === "partial" ? " · partially scanned" : ""
  }`;
  return h(
    "td",
    { "data-testid": "scan" },
    h("div", { class: "small muted" }, summary),
    scan.findingsCount === 0
      ? null
      : h(
          "ul",
          { class: "findings" },
          scan.findings
            .slice(0, SHOWN)
            .map((f) =>
              h(
                "li",
                { "data-rule": f.ruleId, class: f.accepted ? "muted" : "" },
                h("span", { class: "mono small" }, `${f.file}:${f.line}:${f.column}`),
                " ",
                f.ruleId.replace("@secretlint/secretlint-rule-", ""),
                f.accepted ? " (accepted)" : "",
              ),
            ),
          scan.findingsCount > SHOWN ? h("li", { class: "muted" }, `and ${scan.findingsCount - SHOWN} more`) : null,
        ),
  );
}

export function artifactsTable(
  items: ArtifactView[],
  project: string | null,
  download: (a: ArtifactView) => void,
): HTMLElement {
  return h(
    "table",
    { class: "table", "data-testid": "artifacts" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, "Name"),
        h("th", {}, "Status"),
        h("th", { class: "num" }, "Size"),
        h("th", {}, "Type"),
        h("th", {}, "Step"),
        h("th", {}, "SHA-256"),
        h("th", {}, "Secret scan"),
        h("th", { class: "num" }, "Download"),
      ),
    ),
    h(
      "tbody",
      {},
      items.map((a) =>
        h(
          "tr",
          { "data-artifact": a.name, "data-status": a.status, "data-key": a.name },
          h(
            "td",
            { class: "mono" },
            project && a.status !== "rejected"
              ? h(
                  "a",
                  {
                    href: `#/projects/${encodeURIComponent(project)}/artifacts/${encodeURIComponent(a.name)}`,
                    title: "every published version of this artifact",
                  },
                  a.name,
                )
              : a.name,
          ),
          h("td", {}, pill(a.status), a.flagged ? h("span", { class: "pill pill-flagged" }, "flagged") : null),
          h("td", { class: "num", "data-size": a.size }, formatBytes(a.size)),
          h("td", { class: "muted" }, a.contentType),
          h("td", {}, `${a.stepId} #${a.attempt}`),
          h("td", { class: "mono small muted", title: a.sha256 }, `${a.sha256.slice(0, 12)}…`),
          scanCell(a),
          h(
            "td",
            { class: "num" },
            a.status === "rejected"
              ? h("span", { class: "small muted", title: "rejected by the secret scan: never stored" }, "blocked")
              : h(
                  "button",
                  {
                    class: "btn btn-small",
                    type: "button",
                    "aria-label": `Download ${a.name}`,
                    onclick: () => download(a),
                  },
                  "Download",
                ),
          ),
        ),
      ),
    ),
  );
}
