/**
 * The Usage page's retention panel: how long the tenant's finished runs stay hot, their archives
 * and artifacts are kept (tenant-wide and per project override), and what the tenant holds now
 * with its monthly cost. Every figure is the API's (GET /v1/retention, GET /v1/usage's `storage`).
 */
import type { UsageReport } from "../../../schema/api";
import type { RetentionPeriods, RetentionSettings } from "../../../schema/retention";
import { h, kpi, scrollBox } from "../dom";
import { formatBytes, formatUsd } from "../format";

/** A period as people say it: whole days, else hours, else seconds. */
export function formatPeriod(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600} h`;
  return `${seconds} s`;
}

const COLUMNS: [keyof RetentionPeriods, string][] = [
  ["runHotSeconds", "Hot after finish"],
  ["archiveSeconds", "Archive kept"],
  ["unpublishedArtifactSeconds", "Unpublished artifacts"],
  ["supersededArtifactSeconds", "Superseded versions"],
];

function row(label: string, periods: RetentionPeriods, testid: string): HTMLTableRowElement {
  return h(
    "tr",
    { "data-testid": testid },
    h("th", { scope: "row" }, label),
    COLUMNS.map(([field]) =>
      h("td", { "data-field": field, "data-seconds": String(periods[field]) }, formatPeriod(periods[field])),
    ),
  );
}

export function retentionPanel(settings: RetentionSettings, storage: UsageReport["storage"]): HTMLElement {
  return h(
    "section",
    { class: "panel", "data-testid": "retention" },
    h("div", { class: "panel-head" }, h("h2", {}, "Data retention and storage")),
    h(
      "div",
      { class: "panel-body" },
      h(
        "div",
        { class: "kpis" },
        kpi("Run state (hot)", formatBytes(storage.runStateBytes), "storage-run-state", storage.runStateBytes),
        kpi("Archives", formatBytes(storage.archiveBytes), "storage-archives", storage.archiveBytes),
        kpi("Artifacts", formatBytes(storage.artifactBytes), "storage-artifacts", storage.artifactBytes),
        kpi(
          "Storage a month",
          formatUsd(storage.monthlyCostUsd),
          "storage-cost",
          storage.monthlyCostUsd,
          "at the price table",
        ),
      ),
      scrollBox(
        "Retention periods",
        h(
          "table",
          { class: "table" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, "Scope"),
              COLUMNS.map(([, label]) => h("th", { scope: "col" }, label)),
            ),
          ),
          h(
            "tbody",
            {},
            row("Tenant", settings.policy, "retention-tenant"),
            Object.entries(settings.projects).map(([project, periods]) =>
              row(project, periods, `retention-${project}`),
            ),
          ),
        ),
      ),
      h(
        "p",
        { class: "muted small" },
        `Set by the operator. Defaults: hot ${formatPeriod(settings.defaults.runHotSeconds)}, archive ${formatPeriod(settings.defaults.archiveSeconds)}, unpublished artifacts ${formatPeriod(settings.defaults.unpublishedArtifactSeconds)}, superseded versions ${formatPeriod(settings.defaults.supersededArtifactSeconds)} unless pinned.`,
      ),
    ),
  );
}
