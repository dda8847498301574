/**
 * The Usage & SLA page's parts: the service-level cards, the usage totals, the table by project,
 * the chart panels and the pools panel (backlog now, usage in the window).
 */
import type { UsageReport } from "../../../schema/api";
import type { MetricsView } from "../api";
import { emptyState, h, kpi, scrollBox } from "../dom";
import { NONE, formatBytes, formatCount, formatDuration, formatPercent, formatUsd } from "../format";

type Row = UsageReport["items"][number];
const sum = (rows: Row[], f: (r: Row) => number) => rows.reduce((n, r) => n + f(r), 0);
const pair = (a: number | null, b: number | null) => `${formatDuration(a)} / ${formatDuration(b)}`;

export function slaCards(m: MetricsView): HTMLElement {
  const hooks = m.webhooks;
  const runs = `${m.runs.succeeded} succeeded · ${m.runs.failed} failed`;
  const deliveries = `${hooks.deliveries.succeeded} delivered · ${hooks.deliveries.failed} failed · ${hooks.deliveries.pending} pending`;
  const retry = m.retryRate === null ? NONE : `${formatCount(m.retryRate)} / step`;
  return h(
    "div",
    { class: "kpis", "data-testid": "sla" },
    kpi("Success rate", formatPercent(m.successRate), "sla-success-rate", m.successRate, runs),
    kpi("Duration p50", formatDuration(m.durationMs.p50), "sla-p50", m.durationMs.p50),
    kpi("Duration p95", formatDuration(m.durationMs.p95), "sla-p95", m.durationMs.p95),
    kpi("Duration p99", formatDuration(m.durationMs.p99), "sla-p99", m.durationMs.p99),
    kpi(
      "Queue wait p50 / p95",
      pair(m.queueWaitMs.p50, m.queueWaitMs.p95),
      "sla-queue-wait",
      m.queueWaitMs.p50,
      "submission to start",
    ),
    kpi(
      "Within expected time",
      formatPercent(m.withinExpectedTime),
      "sla-within-expected",
      m.withinExpectedTime,
      "blueprint runs",
    ),
    kpi("Retry rate", retry, "sla-retry-rate", m.retryRate, "extra attempts per step"),
    kpi("Running / waiting now", `${m.now.running} / ${m.now.waiting}`, "sla-now", m.now.running),
    kpi("Webhook success", formatPercent(hooks.successRate), "sla-webhooks", hooks.successRate, deliveries),
    kpi(
      "Approval wait p50 / p95",
      pair(m.approvals.waitMs.p50, m.approvals.waitMs.p95),
      "sla-approval-wait",
      m.approvals.waitMs.p50,
      `${m.approvals.pending} pending · ${m.approvals.decided} decided`,
    ),
  );
}

export function usageCards(report: UsageReport): HTMLElement {
  const rows = report.items;
  const total = (f: (r: Row) => number) => sum(rows, f);
  const tokens = `${formatCount(total((r) => r.tokensIn))} / ${formatCount(total((r) => r.tokensOut))}`;
  return h(
    "div",
    { class: "kpis" },
    kpi("Total cost", formatUsd(report.totalCostUsd), "usage-total-cost", report.totalCostUsd),
    kpi(
      "Runs",
      formatCount(total((r) => r.runs)),
      "usage-runs",
      total((r) => r.runs),
    ),
    kpi(
      "Attempts",
      formatCount(total((r) => r.attempts)),
      "usage-attempts",
      total((r) => r.attempts),
    ),
    kpi(
      "Execution time",
      formatDuration(total((r) => r.wallMs)),
      "usage-wall",
      total((r) => r.wallMs),
    ),
    kpi(
      "CPU time (est.)",
      formatDuration(total((r) => r.cpuMs)),
      "usage-cpu",
      total((r) => r.cpuMs),
    ),
    kpi(
      "AI tokens in / out",
      tokens,
      "usage-tokens",
      total((r) => r.tokensIn),
    ),
  );
}

const USAGE_HEAD = [
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
];

function usageRow(r: Row): HTMLElement {
  const num = (text: string, attrs: Record<string, string | number> = {}) => h("td", { class: "num", ...attrs }, text);
  return h(
    "tr",
    { "data-project": r.key },
    h("td", {}, r.key),
    [r.runs, r.succeeded, r.failed, r.steps, r.attempts].map((n) => num(formatCount(n))),
    num(formatDuration(r.wallMs)),
    num(formatDuration(r.cpuMs)),
    num(formatBytes(r.artifactBytes)),
    num(`${formatCount(r.tokensIn)} / ${formatCount(r.tokensOut)}`),
    num(formatUsd(r.costUsd), { "data-testid": "project-cost", "data-value": r.costUsd }),
  );
}

export function usageTable(rows: Row[]): HTMLElement {
  const table = h(
    "table",
    { class: "table", "data-testid": "usage-table" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Project"),
        USAGE_HEAD.map((t) => h("th", { class: "num", scope: "col" }, t)),
      ),
    ),
    h("tbody", {}, rows.map(usageRow)),
  );
  return h(
    "section",
    { class: "panel" },
    h("div", { class: "panel-head" }, h("h2", {}, "By project")),
    h(
      "div",
      { class: "panel-body" },
      rows.length === 0 ? emptyState("No finished runs in this window.") : scrollBox("Usage by project", table),
    ),
  );
}

export function chartPanel(title: string, canvas: HTMLCanvasElement, hasData: boolean, testid: string): HTMLElement {
  return h(
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
}

function poolsTable(metrics: MetricsView, byPool: UsageReport, names: string[]): HTMLElement {
  const backlog = new Map(metrics.pools.map((p) => [p.pool, p]));
  const usage = new Map(byPool.items.map((r) => [r.key, r]));
  const cell = (field: string, text: string, value?: number) =>
    h("td", { class: "num", "data-field": field, "data-value": value }, text);
  const rows = names.map((name) => {
    const b = backlog.get(name);
    const u = usage.get(name);
    return h(
      "tr",
      { "data-pool": name },
      h("td", {}, name),
      (["queued", "running", "retrying"] as const).map((f) => cell(f, b ? formatCount(b[f]) : NONE)),
      cell("attempts", u ? formatCount(u.attempts) : NONE),
      cell("cost", u ? formatUsd(u.costUsd) : NONE, u?.costUsd),
    );
  });
  const head = ["Queued", "Running", "Retrying", "Attempts", "Cost"].map((t) =>
    h("th", { class: "num", scope: "col" }, t),
  );
  return scrollBox(
    "Pools",
    h(
      "table",
      { class: "table compact" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Pool"), head)),
      h("tbody", {}, rows),
    ),
  );
}

/** Per pool the backlog now (a chart when there is one) and what the window's runs used there. */
export function poolsPanel(metrics: MetricsView, byPool: UsageReport): HTMLElement {
  const names = [...new Set([...metrics.pools.map((p) => p.pool), ...byPool.items.map((r) => r.key)])].sort();
  const waiting = metrics.pools.some((p) => p.queued + p.running + p.retrying > 0);
  const chart = waiting
    ? h("div", { class: "chart" }, h("canvas", { "data-chart": "pools", role: "img", "aria-label": "Backlog by pool" }))
    : emptyState("No backlog: no active run has steps waiting in a pool.");
  const note = "backlog now: steps of active runs queued, running or waiting to retry; usage in the window";
  return h(
    "section",
    { class: "panel", "data-testid": "pools" },
    h("div", { class: "panel-head" }, h("h2", {}, "Pools"), h("span", { class: "muted small" }, note)),
    h(
      "div",
      { class: "panel-body" },
      names.length === 0
        ? emptyState("No pool has work or usage yet.")
        : h("div", { class: "grid-2" }, chart, poolsTable(metrics, byPool, names)),
    ),
  );
}
