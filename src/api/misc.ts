/** Small resources: health, blueprints, usage, budgets, retention, metrics. */
import { createRoute, z } from "@hono/zod-openapi";
import { BlueprintList, Metrics, MetricsQuery, UsageQuery, UsageReport } from "../../schema/api";
import { BudgetQuery, BudgetReport } from "../../schema/budgets";
import { BREAKER_REGISTRY } from "../../schema/breakers";
import { describeBlueprints } from "../blueprints";
import { cost, prices, storageCost } from "../analytics/prices";
import { json, newApi, problemResponses, TENANT_CALL, timeWindow } from "./common";
import { composeMetrics } from "../control/metrics";
import { RetentionSettings } from "../../schema/retention";
import { retentionMinSeconds } from "../env";
import { AppError } from "../errors";

export const health = newApi().openapi(
  createRoute({
    method: "get",
    operationId: "getHealth",
    path: "/healthz",
    summary: "Liveness",
    security: [], // public: a load balancer's probe has no key
    responses: {
      200: json(z.object({ status: z.literal("ok") }), "alive"),
    },
  }),
  (c) => c.json({ status: "ok" as const }, 200),
);

export const blueprints = newApi().openapi(
  createRoute({
    method: "get",
    operationId: "listBlueprints",
    path: "/",
    summary: "The blueprints a run can name",
    security: [{ bearer: [] }],
    responses: {
      200: json(BlueprintList, "blueprints"),
      ...problemResponses(...TENANT_CALL),
    },
  }),
  (c) => c.json({ items: describeBlueprints() }, 200),
);

export const usage = newApi().openapi(
  createRoute({
    method: "get",
    operationId: "getUsage",
    path: "/",
    summary: "What the tenant's finished runs used, by project or by day, from recorded attempts",
    security: [{ bearer: [] }],
    request: { query: UsageQuery },
    responses: {
      200: json(UsageReport, "usage"),
      ...problemResponses(...TENANT_CALL),
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const { from, to } = timeWindow(q);
    const table = prices(c.env.PRICE_TABLE);
    const tenant = c.env.TENANT.getByName(c.get("tenantId"));
    const [rows, held] = await Promise.all([tenant.usage(from, to, q.groupBy), tenant.storageHeld()]);
    const items = rows.map((r) => ({ ...r, costUsd: cost(r, table) }));
    const totalCostUsd = Math.round(items.reduce((n, r) => n + r.costUsd, 0) * 1e6) / 1e6;
    return c.json(
      {
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        groupBy: q.groupBy,
        prices: table,
        totalCostUsd,
        items,
        storage: { ...held, monthlyCostUsd: storageCost(held, table) },
      },
      200,
    );
  },
);

export const budgets = newApi().openapi(
  createRoute({
    method: "get",
    operationId: "getBudgets",
    path: "/",
    summary: "The tenant's cost budgets this month: spent, committed by running runs, forecast, thresholds crossed",
    security: [{ bearer: [] }],
    request: { query: BudgetQuery },
    responses: {
      200: json(BudgetReport, "budgets"),
      ...problemResponses(...TENANT_CALL),
    },
  }),
  async (c) => {
    const report = await c.env.TENANT.getByName(c.get("tenantId")).budgetReport(c.req.valid("query").month);
    return c.json(report, 200);
  },
);

export const retention = newApi().openapi(
  createRoute({
    method: "get",
    operationId: "getRetention",
    path: "/",
    summary: "The tenant's retention policy: how long finished runs stay hot, archives and artifacts are kept",
    security: [{ bearer: [] }],
    responses: {
      200: json(RetentionSettings, "the policy in force (set by the operator)"),
      ...problemResponses(...TENANT_CALL),
    },
  }),
  async (c) => {
    const settings = await c.env.TENANT.getByName(c.get("tenantId")).retentionSettings(retentionMinSeconds(c.env));
    // The key was just verified against this tenant: it exists.
    if (!settings) throw new AppError("auth.unauthenticated");
    return c.json(settings, 200);
  },
);

export const metrics = newApi().openapi(
  createRoute({
    method: "get",
    operationId: "getMetrics",
    path: "/",
    summary: "SLA metrics of the tenant's runs, computed from what they recorded",
    security: [{ bearer: [] }],
    request: { query: MetricsQuery },
    responses: {
      200: json(Metrics, "metrics"),
      ...problemResponses(...TENANT_CALL),
    },
  }),
  async (c) => {
    const { from, to } = timeWindow(c.req.valid("query"));
    const [parts, breakers] = await Promise.all([
      c.env.TENANT.getByName(c.get("tenantId")).metricParts(from, to),
      c.env.BREAKER.getByName(BREAKER_REGISTRY).list(),
    ]);
    return c.json(
      { from: new Date(from).toISOString(), to: new Date(to).toISOString(), ...composeMetrics([parts]), breakers },
      200,
    );
  },
);
