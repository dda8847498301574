/**
 * `factory schedules|triggers|events`: what starts runs by itself (docs/schedules-and-triggers.md).
 * A schedule or a trigger is made from a JSON file holding its API body; the rest name it by id.
 */
import { readFileSync } from "node:fs";
import type { FactoryClient, ScheduleView, TriggerView } from "../client/index.ts";

export const AUTOMATION_HELP = `  factory schedules create <schedule.json>      the POST /v1/schedules body: run, spec, overlap, catchUp
  factory schedules list | get <id>            next fire times; get also shows the last fires and their runs
  factory schedules pause|resume|fire|delete <id>
  factory triggers create <trigger.json> | list | delete <id>
  factory events send <type> <id> [--data-json '{…}']   starts a run per matching trigger`;

type Print = (human: string, json: unknown) => void;

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

/** Runs `factory <group> <command> …` for the three groups; null for a group that is not one of them. */
export async function automationCommand(
  c: FactoryClient,
  group: string,
  command: string | undefined,
  args: string[],
  flags: { "data-json"?: string | undefined },
  print: Print,
): Promise<number | null> {
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new Error(`missing ${what}`);
    return value;
  };
  if (group === "schedules") {
    if (command === "create") {
      const s = await c.createSchedule(readJson(need(args[0], "<schedule.json>")));
      print(scheduleDetail(s), s);
    } else if (command === "list") {
      const page = await c.listSchedules({ limit: 200 });
      print(page.items.map(scheduleLine).join("\n") || "no schedules", page);
    } else if (command === "get") {
      const s = await c.getSchedule(need(args[0], "<id>"));
      print(scheduleDetail(s), s);
    } else if (command === "pause" || command === "resume") {
      const s = await c.updateSchedule(need(args[0], "<id>"), { paused: command === "pause" });
      print(scheduleLine(s), s);
    } else if (command === "fire") {
      const fired = await c.fireSchedule(need(args[0], "<id>"));
      print(`fired ${fired.scheduleId} at ${fired.fireTime}: run ${fired.runId}`, fired);
    } else if (command === "delete") {
      await c.deleteSchedule(need(args[0], "<id>"));
      print(`deleted ${args[0]}`, { deleted: args[0] });
    } else return null;
    return 0;
  }
  if (group === "triggers") {
    if (command === "create") {
      const t = await c.createTrigger(readJson(need(args[0], "<trigger.json>")));
      print(triggerLine(t), t);
    } else if (command === "list") {
      const page = await c.listTriggers({ limit: 200 });
      print(page.items.map(triggerLine).join("\n") || "no triggers", page);
    } else if (command === "delete") {
      await c.deleteTrigger(need(args[0], "<id>"));
      print(`deleted ${args[0]}`, { deleted: args[0] });
    } else return null;
    return 0;
  }
  if (group === "events" && command === "send") {
    const data = flags["data-json"] ? (JSON.parse(flags["data-json"]) as Record<string, unknown>) : {};
    const sent = await c.sendEvent({ type: need(args[0], "<type>"), id: need(args[1], "<id>"), data });
    const runs = sent.runs.map((r) => `  ${r.triggerId} → ${r.runId ?? r.error}`);
    print(
      [`event ${sent.eventId}${sent.duplicate ? " (seen before)" : ""}: ${sent.runs.length} run(s)`, ...runs].join(
        "\n",
      ),
      sent,
    );
    return 0;
  }
  return null;
}
