/**
 * A project's artifact across runs: its published versions (newest first, with lineage) and the
 * diff between two of them — files added, removed and changed, by name and size.
 */
import type { ArtifactDiff, ArtifactVersion } from "../../../schema/artifacts";
import { emptyState, errorState, fill, h, pill, scrollBox } from "../dom";
import { formatBytes, formatTime } from "../format";
import type { View } from "./view";

function diffTable(d: ArtifactDiff, version: number, against: number): HTMLElement[] {
  const row = (mark: string, kind: string, path: string, size: string) =>
    h(
      "tr",
      { "data-change": kind },
      h("td", { class: "mono" }, mark),
      h("td", { class: "mono" }, path),
      h("td", { class: "num" }, size),
    );
  const summary = `v${against} → v${version}: ${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.unchanged} unchanged`;
  return [
    h("p", { class: "muted small" }, summary),
    scrollBox(
      "Files changed",
      h(
        "table",
        { class: "table compact" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Change"),
            h("th", { scope: "col" }, "File"),
            h("th", { class: "num", scope: "col" }, "Size"),
          ),
        ),
        h(
          "tbody",
          {},
          d.added.map((f) => row("+", "added", f.path, formatBytes(f.size))),
          d.removed.map((f) => row("−", "removed", f.path, formatBytes(f.size))),
          d.changed.map((f) => row("~", "changed", f.path, `${formatBytes(f.sizeFrom)} → ${formatBytes(f.sizeTo)}`)),
        ),
      ),
    ),
  ];
}

function versionRow(
  v: ArtifactVersion,
  previous: ArtifactVersion | undefined,
  diff: (version: number, against: number) => void,
): HTMLElement {
  return h(
    "tr",
    { "data-version": v.version },
    h("td", { class: "mono" }, `v${v.version}`),
    h("td", {}, pill(v.status)),
    h(
      "td",
      {},
      formatTime(v.publishedAt),
      v.republished ? h("span", { class: "muted small" }, ` · republished ${v.republished}×`) : null,
    ),
    h("td", { class: "num" }, formatBytes(v.size)),
    h("td", { class: "mono small muted", title: v.sha256 }, `${v.sha256.slice(0, 12)}…`),
    h(
      "td",
      { class: "small" },
      h("a", { href: `#/runs/${v.lineage.runId}`, class: "mono" }, v.lineage.runId),
      ` · ${v.lineage.stepId} (${v.lineage.jobType})`,
      v.lineage.blueprint ? ` · ${v.lineage.blueprint}` : "",
    ),
    h(
      "td",
      { class: "num" },
      previous
        ? h(
            "button",
            { class: "btn btn-small", type: "button", onclick: () => diff(v.version, previous.version) },
            `Diff with v${previous.version}`,
          )
        : null,
    ),
  );
}

function versionsTable(items: ArtifactVersion[], diff: (version: number, against: number) => void): HTMLElement {
  const head = ["Version", "Status", "Published"];
  return scrollBox(
    "Versions",
    h(
      "table",
      { class: "table", "data-testid": "versions" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          head.map((t) => h("th", { scope: "col" }, t)),
          h("th", { class: "num", scope: "col" }, "Size"),
          h("th", { scope: "col" }, "SHA-256"),
          h("th", { scope: "col" }, "Built by"),
          h("th", { class: "num", scope: "col" }, "Compare"),
        ),
      ),
      h(
        "tbody",
        {},
        items.map((v, i) => versionRow(v, items[i + 1], diff)),
      ),
    ),
  );
}

export const renderVersions: View = ({ api, main }, [projectParam, nameParam]) => {
  if (projectParam === undefined || nameParam === undefined) throw new Error("routed without a project and name");
  const project = decodeURIComponent(projectParam);
  const name = decodeURIComponent(nameParam);
  let disposed = false;
  const list = h("div", { class: "panel-body" }, h("div", { class: "loading" }, "Loading versions…"));
  const diffPanel = h("div", { class: "panel-body", "data-testid": "diff" });
  const section = (title: string, body: HTMLElement) =>
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, title)), body);
  const head = h(
    "div",
    { class: "page-head" },
    h("h1", { class: "mono" }, name),
    h("span", { class: "muted" }, `project ${project}`),
  );
  fill(
    main,
    h("a", { class: "back", href: "#/runs" }, "← Runs"),
    head,
    section("Versions", list),
    section("Diff", diffPanel),
  );

  async function showDiff(version: number, against: number): Promise<void> {
    fill(diffPanel, h("div", { class: "loading" }, `Comparing v${against} → v${version}…`));
    try {
      const d = await api.artifactDiff(project, name, version, against);
      if (!disposed) fill(diffPanel, diffTable(d, version, against));
    } catch (err) {
      if (!disposed) fill(diffPanel, errorState(err));
    }
  }

  void (async () => {
    try {
      const page = await api.artifactVersions(project, name, { limit: 100 });
      if (disposed) return;
      fill(
        list,
        page.items.length
          ? versionsTable(page.items, (v, a) => void showDiff(v, a))
          : emptyState("No published versions yet."),
      );
      const [latest, previous] = page.items;
      if (latest && previous) await showDiff(latest.version, previous.version);
      else fill(diffPanel, emptyState("A diff needs two versions."));
    } catch (err) {
      if (!disposed) fill(list, errorState(err));
    }
  })();
  return () => {
    disposed = true;
  };
};
