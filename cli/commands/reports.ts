/** The tenant's reports: `factory usage`, `budgets`, `breakers`, `retention`. */
import type { BudgetReport } from "@factory-runtime/client";
import { type CommandGroup, defined } from "../context.ts";
import { meter, retentionLines } from "../format.ts";

export const usage: CommandGroup = {
  help: ["factory usage [--from ISO] [--to ISO] [--group-by project|blueprint|day]"],
  options: { from: { type: "string" }, to: { type: "string" }, "group-by": { type: "string" } },
  commands: {
    "": async (ctx) => {
      const report = await ctx.client().usage(
        defined({
          from: ctx.flag("from"),
          to: ctx.flag("to"),
          groupBy: ctx.flag("group-by") as "project" | "blueprint" | "day" | undefined,
        }),
      );
      const rows = report.items.map(
        (r) =>
          `${r.key.padEnd(20)} ${String(r.runs).padStart(6)} runs ${String(r.succeeded).padStart(6)} ok ${String(r.failed).padStart(5)} failed ${String(r.steps).padStart(7)} steps ${(r.wallMs / 1000).toFixed(1).padStart(9)} s ${(r.artifactBytes / 1024).toFixed(0).padStart(8)} KiB  $${r.costUsd.toFixed(6)}`,
      );
      const held = report.storage;
      const lines = [
        `usage by ${report.groupBy}, ${report.from} → ${report.to}`,
        ...rows,
        `total $${report.totalCostUsd.toFixed(6)}`,
        `storage held now: run state ${(held.runStateBytes / 1024).toFixed(0)} KiB, archives ${(held.archiveBytes / 1024).toFixed(0)} KiB, artifacts ${(held.artifactBytes / 1024).toFixed(0)} KiB · $${held.monthlyCostUsd.toFixed(6)} a month`,
      ];
      ctx.print(lines.join("\n"), report);
      return 0;
    },
  },
};

function budgetLines(report: BudgetReport): string {
  const lines = [...(report.tenant ? [report.tenant] : []), ...report.projects];
  if (lines.length === 0) return `no budget set for ${report.month}`;
  return [
    `budgets, ${report.month} (when spent: ${report.policy?.onExceeded}; applies now: ${report.action})`,
    ...lines.map(
      (l) =>
        `${(l.project ?? "(tenant)").padEnd(20)} ${meter(l.spentUsd / Math.max(l.limitUsd, Number.EPSILON))} $${l.spentUsd.toFixed(6)} of $${l.limitUsd} · committed $${l.committedUsd.toFixed(6)} · forecast $${l.forecastUsd.toFixed(6)} · crossed ${l.thresholdsCrossed.map((t) => `${Math.round(t * 100)}%`).join(", ") || "none"}`,
    ),
  ].join("\n");
}

export const budgets: CommandGroup = {
  help: ["factory budgets [--month YYYY-MM]"],
  options: { month: { type: "string" } },
  commands: {
    "": async (ctx) => {
      const month = ctx.flag("month");
      const report = await ctx.client().budgets(month ? { month } : {});
      ctx.print(budgetLines(report), report);
      return 0;
    },
  },
};

export const breakers: CommandGroup = {
  help: ["factory breakers"],
  commands: {
    "": async (ctx) => {
      const { breakers } = await ctx.client().metrics();
      const lines = breakers.map((b) => {
        const last = b.transitions[0];
        return `${b.state.padEnd(9)} ${b.name}${last ? `  (${last.from} → ${last.to} at ${last.at}: ${last.reason})` : ""}`;
      });
      ctx.print(lines.join("\n") || "no circuit breaker has changed state", breakers);
      return 0;
    },
  },
};

export const retention: CommandGroup = {
  help: ["factory retention                            the tenant's retention policy"],
  commands: {
    "": async (ctx) => {
      const settings = await ctx.client().retention();
      ctx.print(retentionLines(settings), settings);
      return 0;
    },
  },
};
