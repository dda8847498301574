/**
 * `factory schedules|triggers|events`: what starts runs by itself (docs/schedules-and-triggers.md).
 * A schedule or a trigger is made from a JSON file holding its API body; the rest name it by id.
 */
import { readFileSync } from "node:fs";
import type { ScheduleView, TriggerView } from "@factory-runtime/client";
import { type Command, type CommandGroup, need } from "../context.ts";

const readJson = (path: string): never => JSON.parse(readFileSync(path, "utf8")) as never;

function scheduleLine(s: ScheduleView): string {
  const spec =
    "cron" in s.spec
      ? `cron "${s.spec.cron}" ${s.spec.timezone}`
      : "every" in s.spec
        ? `every ${s.spec.every}`
        : `at ${s.spec.at}`;
  const next = s.paused ? "paused" : (s.nextFireTimes[0] ?? "no more fires");
  return `${s.id}  ${s.project.padEnd(14)} ${spec.padEnd(34)} next ${next}${s.name ? `  ${s.name}` : ""}`;
}

function scheduleDetail(s: ScheduleView): string {
  return [
    scheduleLine(s),
    `overlap ${s.overlap}, catchUp ${s.catchUp}${s.buffered ? `, buffered fire ${s.buffered}` : ""}`,
    ...s.nextFireTimes.map((t) => `  next  ${t}`),
    ...s.lastFires.map(
      (f) => `  fired ${f.fireTime}  ${f.outcome.padEnd(8)} ${f.runId ?? ""}${f.reason ? `  ${f.reason}` : ""}`,
    ),
  ].join("\n");
}

const triggerLine = (t: TriggerView) =>
  `${t.id}  ${t.eventType.padEnd(24)} ${t.project.padEnd(14)} ${JSON.stringify(t.match)}`;

const pauseOrResume =
  (paused: boolean): Command =>
  async (ctx, args) => {
    const s = await ctx.client().updateSchedule(need(args[0], "<id>"), { paused });
    ctx.print(scheduleLine(s), s);
    return 0;
  };

export const schedules: CommandGroup = {
  help: [
    "factory schedules create <schedule.json>      the POST /v1/schedules body: run, spec, overlap, catchUp",
    "factory schedules list | get <id>            next fire times; get also shows the last fires and their runs",
    "factory schedules pause|resume|fire|delete <id>",
  ],
  commands: {
    create: async (ctx, args) => {
      const s = await ctx.client().createSchedule(readJson(need(args[0], "<schedule.json>")));
      ctx.print(scheduleDetail(s), s);
      return 0;
    },
    list: async (ctx) => {
      const page = await ctx.client().listSchedules({ limit: 200 });
      ctx.print(page.items.map(scheduleLine).join("\n") || "no schedules", page);
      return 0;
    },
    get: async (ctx, args) => {
      const s = await ctx.client().getSchedule(need(args[0], "<id>"));
      ctx.print(scheduleDetail(s), s);
      return 0;
    },
    pause: pauseOrResume(true),
    resume: pauseOrResume(false),
    fire: async (ctx, args) => {
      const fired = await ctx.client().fireSchedule(need(args[0], "<id>"));
      ctx.print(`fired ${fired.scheduleId} at ${fired.fireTime}: run ${fired.runId}`, fired);
      return 0;
    },
    delete: async (ctx, args) => {
      const id = need(args[0], "<id>");
      await ctx.client().deleteSchedule(id);
      ctx.print(`deleted ${id}`, { deleted: id });
      return 0;
    },
  },
};

export const triggers: CommandGroup = {
  help: ["factory triggers create <trigger.json> | list | delete <id>"],
  commands: {
    create: async (ctx, args) => {
      const t = await ctx.client().createTrigger(readJson(need(args[0], "<trigger.json>")));
      ctx.print(triggerLine(t), t);
      return 0;
    },
    list: async (ctx) => {
      const page = await ctx.client().listTriggers({ limit: 200 });
      ctx.print(page.items.map(triggerLine).join("\n") || "no triggers", page);
      return 0;
    },
    delete: async (ctx, args) => {
      const id = need(args[0], "<id>");
      await ctx.client().deleteTrigger(id);
      ctx.print(`deleted ${id}`, { deleted: id });
      return 0;
    },
  },
};

export const events: CommandGroup = {
  help: ["factory events send <type> <id> [--data-json '{…}']   starts a run per matching trigger"],
  options: { "data-json": { type: "string" } },
  commands: {
    send: async (ctx, args) => {
      const json = ctx.flag("data-json");
      const data = json ? (JSON.parse(json) as Record<string, unknown>) : {};
      const sent = await ctx.client().sendEvent({ type: need(args[0], "<type>"), id: need(args[1], "<id>"), data });
      const runs = sent.runs.map((r) => `  ${r.triggerId} → ${r.runId ?? r.error}`);
      const head = `event ${sent.eventId}${sent.duplicate ? " (seen before)" : ""}: ${sent.runs.length} run(s)`;
      ctx.print([head, ...runs].join("\n"), sent);
      return 0;
    },
  },
};
