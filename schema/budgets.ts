/**
 * Contracts of cost budgets: what an operator sets for a tenant (monthly USD, tenant-wide and per
 * project, priced by the deployment's price table) and what the tenant reads back.
 */
import { z } from "@hono/zod-openapi";
import { ExceededBudget, ProjectId } from "./api";

export { ExceededBudget };

/** What a budget breach does to new runs. */
export const BUDGET_ACTIONS = ["block", "cost-saving", "notify"] as const;
export type BudgetAction = (typeof BUDGET_ACTIONS)[number];

/** A month's budget in USD: 0 (spend nothing) to ten million; anything larger is a typo. */
const MonthlyUsd = z.number().finite().min(0).max(10_000_000);

export const BudgetPolicy = z
  .object({
    monthlyUsd: MonthlyUsd.openapi({ description: "the tenant's budget per calendar month (UTC), in USD" }),
    projects: z
      .record(ProjectId, MonthlyUsd)
      .refine((p) => Object.keys(p).length <= 100, { message: "at most 100 projects" })
      .optional()
      .openapi({ description: "budgets of single projects, per calendar month, in USD" }),
    thresholds: z
      .array(z.number().finite().gt(0).max(10))
      .min(1)
      .max(10)
      .refine((t) => new Set(t).size === t.length, { message: "thresholds must differ" })
      .default([0.5, 0.8, 1])
      .openapi({ description: "fractions of a budget whose crossing emits budget.threshold_crossed" }),
    onExceeded: z.enum(BUDGET_ACTIONS).openapi({
      description:
        "block: new runs are refused (429 budget.exceeded); cost-saving: new runs start at low priority with half the concurrency and agent steps use costSavingModel; notify: events only",
    }),
    costSavingModel: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "the model agent steps use while cost-saving applies" }),
  })
  .strict()
  .openapi("BudgetPolicy");
export type BudgetPolicy = z.infer<typeof BudgetPolicy>;

export const BudgetLine = z
  .object({
    project: z.string().nullable().openapi({ description: "null for the tenant-wide budget" }),
    limitUsd: z.number(),
    spentUsd: z.number().openapi({ description: "what runs that ended this month cost" }),
    committedUsd: z
      .number()
      .openapi({ description: "an estimate for runs running now: their number times this month's mean run cost" }),
    forecastUsd: z.number().openapi({ description: "spent plus committed, extrapolated linearly to the month's end" }),
    thresholdsCrossed: z.array(z.number()),
    exceeded: z.boolean(),
  })
  .openapi("BudgetLine");
export type BudgetLine = z.infer<typeof BudgetLine>;

export const BudgetReport = z
  .object({
    month: z.string().openapi({ example: "2026-12" }),
    policy: BudgetPolicy.nullable(),
    tenant: BudgetLine.nullable(),
    projects: z.array(BudgetLine),
    /** What applies to new runs now. */
    action: z.enum(["none", ...BUDGET_ACTIONS]),
  })
  .openapi("BudgetReport");
export type BudgetReport = z.infer<typeof BudgetReport>;

export const BudgetQuery = z.object({
  month: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/, "YYYY-MM")
    .optional()
    .openapi({ description: "a calendar month (UTC); default the current one" }),
});
