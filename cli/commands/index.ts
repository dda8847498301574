/**
 * Every command group, by the name typed after `factory`, in the order `--help` lists them.
 * A new group is a module in this folder exporting a `CommandGroup`, and one line here.
 */
import type { CommandGroup } from "../context.ts";
import { admin } from "./admin.ts";
import { approvals } from "./approvals.ts";
import { artifacts } from "./artifacts.ts";
import { events, schedules, triggers } from "./automation.ts";
import { breakers, budgets, retention, usage } from "./reports.ts";
import { runs } from "./runs.ts";
import { demo, login } from "./session.ts";

export const GROUPS: Readonly<Record<string, CommandGroup>> = {
  login,
  runs,
  artifacts,
  approvals,
  usage,
  budgets,
  breakers,
  retention,
  schedules,
  triggers,
  events,
  admin,
  demo,
};
