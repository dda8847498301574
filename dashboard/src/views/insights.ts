/**
 * Usage and SLA: service-level figures, the month's budgets, the retention policy and storage held,
 * cost by day and by project, the usage table, per pool the backlog now and what the window's runs
 * used there, and the external dependencies' circuit breakers.
 */
import type { Chart } from "chart.js";
import type { UsageReport } from "../../../schema/api";
import type { MetricsView } from "../api";
import { barChart, stackedBarChart } from "../charts";
import { emptyState, errorState, fill, h, kpi } from "../dom";
import { NONE, formatBytes, formatCount, formatDuration, formatPercent, formatTime, formatUsd } from "../format";
import type { View } from "./view";
import type { BudgetReport } from "../../../schema/budgets";
import { breakersPanel, budgetPanel } from "./budgets";
import type { RetentionSettings } from "../../../schema/retention";
import { retentionPanel } from "./retention";

const WINDOWS = [
  { id: "30d", label: "Last 30 days", days: null }, // the API's default window
  { id: "7d", label: "Last 7 days", days: 7 },
  { id: "1d", label: "Last 24 hours", days: 1 },
] as const;

type Row = UsageReport["items"][number];
const sum = (rows: Row[], f: (r: Row) => number) => rows.reduce((n, r) => n + f(r), 0);

export const renderInsights: View = ({ api, main }) => {
  let charts: Chart[] = [];
  let disposed = false;
  const body = h("div", { class: "insights" }, h("div", { class: "loading" }, "Loading usage and SLA…"));
  const range = h(
    "select",
    { id: "window", "aria-label": "Time window" },
    WINDOWS.map((w) => h("option", { value: w.id }, w.label)),
  );
  const windowNote = h("p", { class: "muted small window-note", "data-testid": "window" });
  range.addEventListener("change", () => void load());
  fill(
    main,
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, "Usage & SLA"),
      h(
        "div",
        { class: "actions" },
        range,
        h("button", { class: "btn btn-ghost", type: "button", onclick: () => void load() }, "Refresh"),
      ),
    ),
    windowNote,
    body,
  );

  async function load(): Promise<void> {
    const w = WINDOWS.find((x) => x.id === range.value) ?? WINDOWS[0];
    const q = w.days === null ? {} : { from: new Date(Date.now() - w.days * 86_400_000).toISOString() };
    let byProject: UsageReport, byDay: UsageReport, byPool: UsageReport, metrics: MetricsView, budgets: BudgetReport;
    let retention: RetentionSettings;
    try {
      [byProject, byDay, byPool, metrics, budgets, retention] = await Promise.all([
        api.usage({ ...q, groupBy: "project" }),
        api.usage({ ...q, groupBy: "day" }),
        api.usage({ ...q, groupBy: "pool" }),
        api.metrics(q),
        api.budgets(),
        api.retention(),
      ]);
    } catch (err) {
      if (!disposed) fill(body, errorState(err));
      return;
    }
    if (disposed) return;
    for (const c of charts) c.destroy();
    charts = [];
    windowNote.textContent = `Runs created from ${formatTime(byProject.from)} to ${formatTime(byProject.to)}; usage counts finished runs.`;
    const rows = byProject.items;
    const hooks = metrics.webhooks;

    const costByDay = h("canvas", { role: "img", "aria-label": "Cost by day" });
    const costByProject = h("canvas", { role: "img", "aria-label": "Cost by project" });
    const chartPanel = (title: string, canvas: HTMLCanvasElement, hasData: boolean, testid: string) =>
      h(
        "section",
        { class: "panel", "data-testid": testid },
        h("div", { class: "panel-head" }, h("h2", {}, title)),
        h(
          "div",
          { class: "panel-body" },
          hasData
            ? h("div", { class: "chart" }, canvas)
            : emptyState("No usage in this window.", h("a", { href: "#/new" }, "Submit a run")),
        ),
      );

    fill(
      body,
      h("h2", { class: "section-title" }, "Service level"),
      h(
        "div",
        { class: "kpis", "data-testid": "sla" },
        kpi(
          "Success rate",
          formatPercent(metrics.successRate),
          "sla-success-rate",
          metrics.successRate,
          `${metrics.runs.succeeded} succeeded · ${metrics.runs.failed} failed`,
        ),
        kpi("Duration p50", formatDuration(metrics.durationMs.p50), "sla-p50", metrics.durationMs.p50),
        kpi("Duration p95", formatDuration(metrics.durationMs.p95), "sla-p95", metrics.durationMs.p95),
        kpi("Duration p99", formatDuration(metrics.durationMs.p99), "sla-p99", metrics.durationMs.p99),
        kpi(
          "Queue wait p50 / p95",
          `${formatDuration(metrics.queueWaitMs.p50)} / ${formatDuration(metrics.queueWaitMs.p95)}`,
          "sla-queue-wait",
          metrics.queueWaitMs.p50,
          "submission to start",
        ),
        kpi(
          "Within expected time",
          formatPercent(metrics.withinExpectedTime),
          "sla-within-expected",
          metrics.withinExpectedTime,
          "blueprint runs",
        ),
        kpi(
          "Retry rate",
          metrics.retryRate === null ? NONE : `${formatCount(metrics.retryRate)} / step`,
          "sla-retry-rate",
          metrics.retryRate,
          "extra attempts per step",
        ),
        kpi("Running / waiting now", `${metrics.now.running} / ${metrics.now.waiting}`, "sla-now", metrics.now.running),
        kpi(
          "Webhook success",
          formatPercent(hooks.successRate),
          "sla-webhooks",
          hooks.successRate,
          `${hooks.deliveries.succeeded} delivered · ${hooks.deliveries.failed} failed · ${hooks.deliveries.pending} pending`,
        ),
        kpi(
          "Approval wait p50 / p95",
          `${formatDuration(metrics.approvals.waitMs.p50)} / ${formatDuration(metrics.approvals.waitMs.p95)}`,
          "sla-approval-wait",
          metrics.approvals.waitMs.p50,
          `${metrics.approvals.pending} pending · ${metrics.approvals.decided} decided`,
        ),
      ),
      h("h2", { class: "section-title" }, "Usage and cost"),
      budgetPanel(budgets),
      retentionPanel(retention, byProject.storage),
      h(
        "div",
        { class: "kpis" },
        kpi("Total cost", formatUsd(byProject.totalCostUsd), "usage-total-cost", byProject.totalCostUsd),
        kpi(
          "Runs",
          formatCount(sum(rows, (r) => r.runs)),
          "usage-runs",
          sum(rows, (r) => r.runs),
        ),
        kpi(
          "Attempts",
          formatCount(sum(rows, (r) => r.attempts)),
          "usage-attempts",
          sum(rows, (r) => r.attempts),
        ),
        kpi(
          "Execution time",
          formatDuration(sum(rows, (r) => r.wallMs)),
          "usage-wall",
          sum(rows, (r) => r.wallMs),
        ),
        kpi(
          "CPU time (est.)",
          formatDuration(sum(rows, (r) => r.cpuMs)),
          "usage-cpu",
          sum(rows, (r) => r.cpuMs),
        ),
        kpi(
          "AI tokens in / out",
          `${formatCount(sum(rows, (r) => r.tokensIn))} / ${formatCount(sum(rows, (r) => r.tokensOut))}`,
          "usage-tokens",
          sum(rows, (r) => r.tokensIn),
        ),
      ),
      h(
        "div",
        { class: "grid-2" },
        chartPanel("Cost by day", costByDay, byDay.items.length > 0, "cost-by-day"),
        chartPanel("Cost by project", costByProject, rows.length > 0, "cost-by-project"),
      ),
      usageTable(rows),
      poolsPanel(metrics, byPool),
      breakersPanel(metrics.breakers),
    );
    if (byDay.items.length > 0)
      charts.push(
        barChart(
          costByDay,
          byDay.items.map((r) => r.key),
          "cost",
          byDay.items.map((r) => r.costUsd),
          formatUsd,
        ),
      );
    if (rows.length > 0)
      charts.push(
        barChart(
          costByProject,
          rows.map((r) => r.key),
          "cost",
          rows.map((r) => r.costUsd),
          formatUsd,
        ),
      );
    const poolCanvas = body.querySelector<HTMLCanvasElement>("canvas[data-chart=pools]");
    if (poolCanvas) {
      const pools = metrics.pools;
      charts.push(
        stackedBarChart(
          poolCanvas,
          pools.map((p) => p.pool),
          [
            { label: "queued", values: pools.map((p) => p.queued), series: "queue" },
            { label: "running", values: pools.map((p) => p.running), series: "execution" },
            { label: "retrying", values: pools.map((p) => p.retrying), series: "backoff" },
          ],
          formatCount,
        ),
      );
    }
  }

  function usageTable(rows: Row[]): HTMLElement {
    const num = (text: string, attrs: Record<string, string | number> = {}) =>
      h("td", { class: "num", ...attrs }, text);
    return h(
      "section",
      { class: "panel" },
      h("div", { class: "panel-head" }, h("h2", {}, "By project")),
      h(
        "div",
        { class: "panel-body" },
        rows.length === 0
          ? emptyState("No finished runs in this window.")
          : h(
              "table",
              { class: "table", "data-testid": "usage-table" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  h("th", {}, "Project"),
                  [
                    "Runs",
                    "Succeeded",
                    "Failed",
                    "Steps",
                    "Attempts",
                    "Execution",
                    "CPU (est.)",
                    "Artifacts",
                    "Tokens in / out",
                    "Cost",
                  ].map((t) => h("th", { class: "num" }, t)),
                ),
              ),
              h(
                "tbody",
                {},
                rows.map((r) =>
                  h(
                    "tr",
                    { "data-project": r.key },
                    h("td", {}, r.key),
                    num(formatCount(r.runs)),
                    num(formatCount(r.succeeded)),
                    num(formatCount(r.failed)),
                    num(formatCount(r.steps)),
                    num(formatCount(r.attempts)),
                    num(formatDuration(r.wallMs)),
                    num(formatDuration(r.cpuMs)),
                    num(formatBytes(r.artifactBytes)),
                    num(`${formatCount(r.tokensIn)} / ${formatCount(r.tokensOut)}`),
                    num(formatUsd(r.costUsd), { "data-testid": "project-cost", "data-value": r.costUsd }),
                  ),
                ),
              ),
            ),
      ),
    );
  }

  function poolsPanel(metrics: MetricsView, byPool: UsageReport): HTMLElement {
    const backlog = new Map(metrics.pools.map((p) => [p.pool, p]));
    const usage = new Map(byPool.items.map((r) => [r.key, r]));
    const names = [...new Set([...backlog.keys(), ...usage.keys()])].sort();
    const waiting = metrics.pools.some((p) => p.queued + p.running + p.retrying > 0);
    return h(
      "section",
      { class: "panel", "data-testid": "pools" },
      h(
        "div",
        { class: "panel-head" },
        h("h2", {}, "Pools"),
        h(
          "span",
          { class: "muted small" },
          "backlog now: steps of active runs queued, running or waiting to retry; usage in the window",
        ),
      ),
      h(
        "div",
        { class: "panel-body" },
        names.length === 0
          ? emptyState("No pool has work or usage yet.")
          : h(
              "div",
              { class: "grid-2" },
              waiting
                ? h(
                    "div",
                    { class: "chart" },
                    h("canvas", { "data-chart": "pools", role: "img", "aria-label": "Backlog by pool" }),
                  )
                : emptyState("No backlog: no active run has steps waiting in a pool."),
              h(
                "table",
                { class: "table compact" },
                h(
                  "thead",
                  {},
                  h(
                    "tr",
                    {},
                    h("th", {}, "Pool"),
                    ["Queued", "Running", "Retrying", "Attempts", "Cost"].map((t) => h("th", { class: "num" }, t)),
                  ),
                ),
                h(
                  "tbody",
                  {},
                  names.map((name) => {
                    const b = backlog.get(name);
                    const u = usage.get(name);
                    return h(
                      "tr",
                      { "data-pool": name },
                      h("td", {}, name),
                      h("td", { class: "num", "data-field": "queued" }, b ? formatCount(b.queued) : NONE),
                      h("td", { class: "num", "data-field": "running" }, b ? formatCount(b.running) : NONE),
                      h("td", { class: "num", "data-field": "retrying" }, b ? formatCount(b.retrying) : NONE),
                      h("td", { class: "num", "data-field": "attempts" }, u ? formatCount(u.attempts) : NONE),
                      h(
                        "td",
                        { class: "num", "data-field": "cost", "data-value": u?.costUsd },
                        u ? formatUsd(u.costUsd) : NONE,
                      ),
                    );
                  }),
                ),
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
