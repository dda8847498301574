/**
 * The Usage page's budget and dependency panels: a bar per budget (tenant-wide and per project)
 * with what is spent, what running runs commit and each threshold marked; and each external
 * dependency's circuit breaker. The bars are SVG (attributes, not inline styles: the page's CSP
 * allows no inline style).
 */
import type { BreakerView } from "../../../schema/breakers";
import type { BudgetLine, BudgetReport } from "../../../schema/budgets";
import { emptyState, h, scrollBox } from "../dom";
import { formatTime, formatUsd } from "../format";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** The bar's scale: the limit, or what is spent and committed when that is more (an overshoot shows). */
function bar(line: BudgetLine, thresholds: number[]): SVGElement {
  const scale = Math.max(line.limitUsd, line.spentUsd + line.committedUsd, Number.EPSILON);
  const pct = (usd: number) => Math.min(100, (usd / scale) * 100);
  const root = svg("svg", {
    viewBox: "0 0 100 10",
    preserveAspectRatio: "none",
    class: "budget-bar",
    role: "img",
    "aria-label": `${formatUsd(line.spentUsd)} of ${formatUsd(line.limitUsd)} spent`,
  });
  root.append(
    svg("rect", { x: 0, y: 0, width: 100, height: 10, class: "budget-track" }),
    svg("rect", {
      x: 0,
      y: 0,
      width: pct(line.spentUsd),
      height: 10,
      class: line.exceeded ? "budget-spent budget-over" : "budget-spent",
    }),
    svg("rect", {
      x: pct(line.spentUsd),
      y: 0,
      width: Math.max(0, pct(line.spentUsd + line.committedUsd) - pct(line.spentUsd)),
      height: 10,
      class: "budget-committed",
    }),
  );
  for (const t of thresholds) {
    const x = pct(t * line.limitUsd);
    const mark = svg("line", {
      x1: x,
      x2: x,
      y1: 0,
      y2: 10,
      class: line.thresholdsCrossed.includes(t) ? "budget-mark budget-mark-crossed" : "budget-mark",
      "data-testid": "budget-threshold",
      "data-threshold": t,
      "data-x": x.toFixed(2),
    });
    const title = svg("title", {});
    title.textContent = `${Math.round(t * 100)} % of the budget${line.thresholdsCrossed.includes(t) ? " (crossed)" : ""}`;
    mark.append(title);
    root.append(mark);
  }
  return root;
}

function budgetRow(line: BudgetLine, thresholds: number[]): HTMLElement {
  const name = line.project ?? "Tenant (all projects)";
  return h(
    "div",
    {
      class: "budget",
      "data-testid": `budget-${line.project ?? "tenant"}`,
      "data-spent": line.spentUsd,
      "data-limit": line.limitUsd,
      "data-exceeded": String(line.exceeded),
    },
    h(
      "div",
      { class: "budget-head" },
      h("strong", {}, name),
      h(
        "span",
        { class: "muted small" },
        `${formatUsd(line.spentUsd)} spent · ${formatUsd(line.committedUsd)} committed · forecast ${formatUsd(line.forecastUsd)} of ${formatUsd(line.limitUsd)}`,
      ),
    ),
    bar(line, thresholds),
  );
}

export function budgetPanel(report: BudgetReport): HTMLElement {
  const thresholds = report.policy?.thresholds ?? [];
  const lines = [...(report.tenant ? [report.tenant] : []), ...report.projects];
  return h(
    "section",
    { class: "panel", "data-testid": "budgets" },
    h(
      "div",
      { class: "panel-head" },
      h("h2", {}, `Budgets, ${report.month}`),
      report.policy
        ? h(
            "span",
            { class: "muted small", "data-testid": "budget-action" },
            `when spent: ${report.policy.onExceeded}${report.action !== "none" ? ` (applies now: ${report.action})` : ""}`,
          )
        : null,
    ),
    h(
      "div",
      { class: "panel-body" },
      lines.length > 0
        ? lines.map((l) => budgetRow(l, thresholds))
        : emptyState("No budget is set for this tenant (an operator sets one with the admin API)."),
    ),
  );
}

export function breakersPanel(breakers: BreakerView[]): HTMLElement {
  return h(
    "section",
    { class: "panel", "data-testid": "breakers" },
    h(
      "div",
      { class: "panel-head" },
      h("h2", {}, "External dependencies"),
      h("span", { class: "muted small" }, "circuit breakers that have changed state"),
    ),
    h(
      "div",
      { class: "panel-body" },
      breakers.length === 0
        ? emptyState("Every dependency's breaker is closed and has never opened.")
        : scrollBox(
            "External dependencies",
            h(
              "table",
              { class: "table" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  ["Dependency", "State", "Last change"].map((t) => h("th", { scope: "col" }, t)),
                ),
              ),
              h(
                "tbody",
                {},
                breakers.map((b) =>
                  h(
                    "tr",
                    { "data-testid": "breaker", "data-name": b.name, "data-state": b.state },
                    h("td", { class: "mono" }, b.name),
                    h("td", {}, h("span", { class: `breaker-state breaker-${b.state}` }, b.state)),
                    h(
                      "td",
                      { class: "muted small" },
                      b.transitions[0]
                        ? `${b.transitions[0].from} → ${b.transitions[0].to} at ${formatTime(b.transitions[0].at)}: ${b.transitions[0].reason}`
                        : "—",
                    ),
                  ),
                ),
              ),
            ),
          ),
    ),
  );
}
