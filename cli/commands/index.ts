/**
 * Every command group, by the name typed after `factory`, in the order `--help` lists them.
 * A new group is a module in this folder exporting a `CommandGroup`, and one line here: each
 * entry imports its own module, so groups added side by side touch only their own line.
 */
import type { CommandGroup } from "../context.ts";

export const GROUPS: Readonly<Record<string, CommandGroup>> = {
  login: (await import("./session.ts")).login,
  runs: (await import("./runs.ts")).runs,
  operations: (await import("./search.ts")).operations,
  artifacts: (await import("./artifacts.ts")).artifacts,
  approvals: (await import("./approvals.ts")).approvals,
  usage: (await import("./reports.ts")).usage,
  budgets: (await import("./reports.ts")).budgets,
  breakers: (await import("./reports.ts")).breakers,
  retention: (await import("./reports.ts")).retention,
  schedules: (await import("./automation.ts")).schedules,
  triggers: (await import("./automation.ts")).triggers,
  events: (await import("./automation.ts")).events,
  secrets: (await import("./secrets.ts")).secrets,
  audit: (await import("./audit.ts")).audit,
  telemetry: (await import("./telemetry.ts")).telemetry,
  workers: (await import("./workers.ts")).workers,
  "job-types": (await import("./workers.ts")).jobTypes,
  admin: (await import("./admin.ts")).admin,
  demo: (await import("./session.ts")).demo,
};
