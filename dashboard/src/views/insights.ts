/**
 * Usage and SLA: service-level figures, the month's budgets, the retention policy and storage held,
 * cost by day and by project, the usage table, per pool the backlog now and what the window's runs
 * used there, and the external dependencies' circuit breakers.
 */
import type { Chart } from "chart.js";
import type { UsageReport } from "../../../schema/api";
import type { Api, MetricsView } from "../api";
import { barChart, stackedBarChart } from "../charts";
import { errorState, fill, h } from "../dom";
import { formatCount, formatTime, formatUsd } from "../format";
import { chartPanel, poolsPanel, slaCards, usageCards, usageTable } from "./insights-panels";
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

type Loaded = {
  byProject: UsageReport;
  byDay: UsageReport;
  byPool: UsageReport;
  metrics: MetricsView;
  budgets: BudgetReport;
  retention: RetentionSettings;
};

async function fetchAll(api: Api, days: number | null): Promise<Loaded> {
  const q = days === null ? {} : { from: new Date(Date.now() - days * 86_400_000).toISOString() };
  const [byProject, byDay, byPool, metrics, budgets, retention] = await Promise.all([
    api.usage({ ...q, groupBy: "project" }),
    api.usage({ ...q, groupBy: "day" }),
    api.usage({ ...q, groupBy: "pool" }),
    api.metrics(q),
    api.budgets(),
    api.retention(),
  ]);
  return { byProject, byDay, byPool, metrics, budgets, retention };
}

/** Fills the page's body and draws its charts; returns the charts, for the next load to destroy. */
function show(body: HTMLElement, d: Loaded): Chart[] {
  const rows = d.byProject.items;
  const costByDay = h("canvas", { role: "img", "aria-label": "Cost by day" });
  const costByProject = h("canvas", { role: "img", "aria-label": "Cost by project" });
  fill(
    body,
    h("h2", { class: "section-title" }, "Service level"),
    slaCards(d.metrics),
    h("h2", { class: "section-title" }, "Usage and cost"),
    budgetPanel(d.budgets),
    retentionPanel(d.retention, d.byProject.storage),
    usageCards(d.byProject),
    h(
      "div",
      { class: "grid-2" },
      chartPanel("Cost by day", costByDay, d.byDay.items.length > 0, "cost-by-day"),
      chartPanel("Cost by project", costByProject, rows.length > 0, "cost-by-project"),
    ),
    usageTable(rows),
    poolsPanel(d.metrics, d.byPool),
    breakersPanel(d.metrics.breakers),
  );
  const charts: Chart[] = [];
  const costs = (items: UsageReport["items"]) =>
    [items.map((r) => r.key), "cost", items.map((r) => r.costUsd)] as const;
  if (d.byDay.items.length > 0) charts.push(barChart(costByDay, ...costs(d.byDay.items), formatUsd));
  if (rows.length > 0) charts.push(barChart(costByProject, ...costs(rows), formatUsd));
  const poolCanvas = body.querySelector<HTMLCanvasElement>("canvas[data-chart=pools]");
  if (poolCanvas) {
    const pools = d.metrics.pools;
    const series = [
      { label: "queued", values: pools.map((p) => p.queued), series: "queue" },
      { label: "running", values: pools.map((p) => p.running), series: "execution" },
      { label: "retrying", values: pools.map((p) => p.retrying), series: "backoff" },
    ] as const;
    charts.push(
      stackedBarChart(
        poolCanvas,
        pools.map((p) => p.pool),
        [...series],
        formatCount,
      ),
    );
  }
  return charts;
}

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
  const refresh = h("button", { class: "btn btn-ghost", type: "button", onclick: () => void load() }, "Refresh");
  const head = h(
    "div",
    { class: "page-head" },
    h("h1", {}, "Usage & SLA"),
    h("div", { class: "actions" }, range, refresh),
  );
  fill(main, head, windowNote, body);

  async function load(): Promise<void> {
    const w = WINDOWS.find((x) => x.id === range.value) ?? WINDOWS[0];
    let d: Loaded;
    try {
      d = await fetchAll(api, w.days);
    } catch (err) {
      if (!disposed) fill(body, errorState(err));
      return;
    }
    if (disposed) return;
    for (const c of charts) c.destroy();
    windowNote.textContent = `Runs created from ${formatTime(d.byProject.from)} to ${formatTime(d.byProject.to)}; usage counts finished runs.`;
    charts = show(body, d);
  }

  void load();
  return () => {
    disposed = true;
    for (const c of charts) c.destroy();
  };
};
