/**
 * Usage and SLA: cost by day and by project, the usage table, SLA figures, pool backlog and
 * webhook delivery. Figures the runtime does not report (older versions) show as "—".
 */
import type { Chart } from "chart.js";
import type { MetricsView, UsageView } from "../api";
import { barChart } from "../charts";
import { emptyState, errorState, fill, h, kpi } from "../dom";
import { NONE, formatBytes, formatCount, formatDuration, formatPercent, formatTime, formatUsd } from "../format";
import type { View } from "./view";

const WINDOWS = [
  { id: "30d", label: "Last 30 days", days: null }, // the API's default window
  { id: "7d", label: "Last 7 days", days: 7 },
  { id: "1d", label: "Last 24 hours", days: 1 },
] as const;

export const renderInsights: View = ({ api, main }) => {
  let charts: Chart[] = [];
  let disposed = false;
  const body = h("div", { class: "insights" }, h("div", { class: "loading" }, "Loading usage and SLA…"));
  const range = h("select", { id: "window", "aria-label": "Time window" }, WINDOWS.map((w) => h("option", { value: w.id }, w.label)));
  const windowNote = h("p", { class: "muted small", "data-testid": "window" });
  range.addEventListener("change", () => void load());
  fill(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Usage & SLA"), h("div", { class: "actions" }, range, h("button", { class: "btn btn-ghost", type: "button", onclick: () => void load() }, "Refresh"))),
    windowNote,
    body,
  );

  async function load(): Promise<void> {
    const w = WINDOWS.find((x) => x.id === range.value) ?? WINDOWS[0];
    const q = w.days === null ? {} : { from: new Date(Date.now() - w.days * 86_400_000).toISOString() };
    let byProject: UsageView, byDay: UsageView, metrics: MetricsView;
    try {
      [byProject, byDay, metrics] = await Promise.all([api.usage({ ...q, groupBy: "project" }), api.usage({ ...q, groupBy: "day" }), api.metrics(q)]);
    } catch (err) {
      if (!disposed) fill(body, errorState(err));
      return;
    }
    if (disposed) return;
    for (const c of charts) c.destroy();
    charts = [];
    windowNote.textContent = `Runs created from ${formatTime(byProject.from)} to ${formatTime(byProject.to)}.`;
    const total = (f: (r: UsageView["items"][number]) => number) => byProject.items.reduce((n, r) => n + f(r), 0);
    const hasCpu = byProject.items.some((r) => typeof r.cpuMs === "number");

    const costByDay = h("canvas", { role: "img", "aria-label": "Cost by day" });
    const costByProject = h("canvas", { role: "img", "aria-label": "Cost by project" });
    const chartPanel = (title: string, canvas: HTMLCanvasElement, hasData: boolean, testid: string) =>
      h("section", { class: "panel", "data-testid": testid }, h("div", { class: "panel-head" }, h("h2", {}, title)), h("div", { class: "panel-body" }, hasData ? h("div", { class: "chart" }, canvas) : emptyState("No usage in this window.", h("a", { href: "#/new" }, "Submit a run"))));

    fill(
      body,
      h("h2", { class: "section-title" }, "Service level"),
      h(
        "div",
        { class: "kpis", "data-testid": "sla" },
        kpi("Success rate", formatPercent(metrics.successRate), "sla-success-rate", metrics.successRate, `${metrics.runs.succeeded} succeeded · ${metrics.runs.failed} failed`),
        kpi("Duration p50", formatDuration(metrics.durationMs.p50), "sla-p50", metrics.durationMs.p50),
        kpi("Duration p95", formatDuration(metrics.durationMs.p95), "sla-p95", metrics.durationMs.p95),
        kpi("Duration p99", formatDuration(metrics.durationMs.p99), "sla-p99", metrics.durationMs.p99),
        kpi("Queue wait p50 / p95", `${formatDuration(metrics.queueWaitMs.p50)} / ${formatDuration(metrics.queueWaitMs.p95)}`, "sla-queue-wait", metrics.queueWaitMs.p50),
        kpi("Within expected time", formatPercent(metrics.withinExpectedTime), "sla-within-expected", metrics.withinExpectedTime),
        kpi("Retry rate", metrics.retryRate === null ? NONE : `${formatCount(metrics.retryRate)} / step`, "sla-retry-rate", metrics.retryRate, "extra attempts per step"),
        kpi("Running / waiting now", `${metrics.now.running} / ${metrics.now.waiting}`, "sla-now", metrics.now.running),
        kpi("Webhook success", metrics.webhooks ? formatPercent(metrics.webhooks.successRate) : NONE, "sla-webhooks", metrics.webhooks?.successRate ?? null, metrics.webhooks ? `${metrics.webhooks.delivered} delivered · ${metrics.webhooks.failed} failed` : "no data"),
      ),
      h("h2", { class: "section-title" }, "Usage and cost"),
      h(
        "div",
        { class: "kpis" },
        kpi("Total cost", formatUsd(byProject.totalCostUsd), "usage-total-cost", byProject.totalCostUsd),
        kpi("Runs", formatCount(total((r) => r.runs)), "usage-runs", total((r) => r.runs)),
        kpi("Attempts", formatCount(total((r) => r.attempts)), "usage-attempts", total((r) => r.attempts)),
        kpi("Execution time", formatDuration(total((r) => r.wallMs)), "usage-wall", total((r) => r.wallMs)),
        kpi("AI tokens in / out", `${formatCount(total((r) => r.tokensIn))} / ${formatCount(total((r) => r.tokensOut))}`, "usage-tokens", total((r) => r.tokensIn)),
      ),
      h(
        "div",
        { class: "grid-2" },
        chartPanel("Cost by day", costByDay, byDay.items.length > 0, "cost-by-day"),
        chartPanel("Cost by project", costByProject, byProject.items.length > 0, "cost-by-project"),
      ),
      h(
        "section",
        { class: "panel" },
        h("div", { class: "panel-head" }, h("h2", {}, "By project")),
        h(
          "div",
          { class: "panel-body" },
          byProject.items.length === 0
            ? emptyState("No finished runs in this window.")
            : h(
                "table",
                { class: "table", "data-testid": "usage-table" },
                h(
                  "thead",
                  {},
                  h("tr", {}, h("th", {}, "Project"), h("th", { class: "num" }, "Runs"), h("th", { class: "num" }, "Succeeded"), h("th", { class: "num" }, "Failed"), h("th", { class: "num" }, "Steps"), h("th", { class: "num" }, "Attempts"), h("th", { class: "num" }, "Execution"), hasCpu ? h("th", { class: "num" }, "CPU") : null, h("th", { class: "num" }, "Artifacts"), h("th", { class: "num" }, "Tokens in / out"), h("th", { class: "num" }, "Cost")),
                ),
                h(
                  "tbody",
                  {},
                  byProject.items.map((r) =>
                    h(
                      "tr",
                      { "data-project": r.key },
                      h("td", {}, r.key),
                      h("td", { class: "num" }, formatCount(r.runs)),
                      h("td", { class: "num" }, formatCount(r.succeeded)),
                      h("td", { class: "num" }, formatCount(r.failed)),
                      h("td", { class: "num" }, formatCount(r.steps)),
                      h("td", { class: "num" }, formatCount(r.attempts)),
                      h("td", { class: "num" }, formatDuration(r.wallMs)),
                      hasCpu ? h("td", { class: "num" }, formatDuration(r.cpuMs)) : null,
                      h("td", { class: "num" }, formatBytes(r.artifactBytes)),
                      h("td", { class: "num" }, `${formatCount(r.tokensIn)} / ${formatCount(r.tokensOut)}`),
                      h("td", { class: "num", "data-testid": "project-cost", "data-value": r.costUsd }, formatUsd(r.costUsd)),
                    ),
                  ),
                ),
              ),
        ),
      ),
      poolsPanel(metrics),
    );
    if (byDay.items.length > 0) charts.push(barChart(costByDay, byDay.items.map((r) => r.key), "cost", byDay.items.map((r) => r.costUsd), formatUsd));
    if (byProject.items.length > 0) charts.push(barChart(costByProject, byProject.items.map((r) => r.key), "cost", byProject.items.map((r) => r.costUsd), formatUsd));
    const poolCanvas = body.querySelector<HTMLCanvasElement>("canvas[data-chart=pools]");
    if (poolCanvas && metrics.pools) charts.push(barChart(poolCanvas, metrics.pools.map((p) => p.pool), "backlog", metrics.pools.map((p) => p.backlog), formatCount));
  }

  function poolsPanel(metrics: MetricsView): HTMLElement {
    const pools = metrics.pools ?? [];
    return h(
      "section",
      { class: "panel", "data-testid": "pools" },
      h("div", { class: "panel-head" }, h("h2", {}, "Pool backlog"), h("span", { class: "muted small" }, "steps waiting in each worker pool's queue")),
      h(
        "div",
        { class: "panel-body" },
        pools.length === 0
          ? emptyState(metrics.pools ? "No pools have reported yet." : "No data.", metrics.pools ? undefined : "This runtime does not report pool backlogs.")
          : h(
              "div",
              { class: "grid-2" },
              h("div", { class: "chart" }, h("canvas", { "data-chart": "pools", role: "img", "aria-label": "Backlog by pool" })),
              h(
                "table",
                { class: "table compact" },
                h("thead", {}, h("tr", {}, h("th", {}, "Pool"), h("th", { class: "num" }, "Backlog"))),
                h("tbody", {}, pools.map((p) => h("tr", { "data-pool": p.pool }, h("td", {}, p.pool), h("td", { class: "num", "data-value": p.backlog }, formatCount(p.backlog))))),
              ),
            ),
      ),
    );
  }

  void load();
  return () => {
    disposed = true;
    for (const c of charts) c.destroy();
  };
};
