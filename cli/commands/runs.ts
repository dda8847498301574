/** `factory runs …`: create, list, inspect, control, follow and signal runs. */
import { readFileSync } from "node:fs";
import type { CreateRunInput, EventEnvelope, FactoryClient, RunControl } from "@factory-runtime/client";
import { type Command, type CommandGroup, type Context, defined, need, UsageError } from "../context.ts";
import { summary } from "../format.ts";
import { deliveryLines } from "./delivery.ts";
import { watchRun } from "../watch.ts";
import { bulk, list, SEARCH_OPTIONS } from "./search.ts";

/** A run's command given a run, or a bulk operation over the filter flags' runs given none. */
const oneOrMany =
  (one: Command, many: Command): Command =>
  (ctx, args) =>
    args[0] === undefined ? many(ctx, args) : one(ctx, args);

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, "utf8"));

/** Watches a run to its end; exit code 0 only when it succeeded. */
export async function watchToEnd(ctx: Context, c: FactoryClient, runId: string): Promise<number> {
  const json = ctx.flags.json === true;
  const run = await watchRun(c, runId, { json, out: ctx.out });
  ctx.out.write(json ? `${JSON.stringify(run)}\n` : `${summary(run)}\n`);
  return run.status === "succeeded" ? 0 : 1;
}

const create: Command = async (ctx, args) => {
  const project = need(ctx.flag("project"), "--project");
  const steps = ctx.flag("steps");
  const input = ctx.flag("input");
  const inputJson = ctx.flag("input-json");
  // The body's shape is the API's to check: a bad steps file is its 400, with field paths.
  const body = (
    steps
      ? { project, steps: readJson(steps) }
      : {
          project,
          blueprint: need(args[0], "<blueprint>"),
          input: input ? readJson(input) : inputJson ? JSON.parse(inputJson) : {},
        }
  ) as CreateRunInput;
  const priority = ctx.flag("priority") as CreateRunInput["priority"];
  const concurrency = parseConcurrency(ctx.flags.concurrency);
  const debounce = parseDebounce(ctx.flag("debounce"));
  const c = ctx.client();
  const run = await c.createRun({
    ...body,
    ...defined({ priority }),
    ...(concurrency ? { concurrency } : {}),
    ...(debounce ? { debounce } : {}),
  });
  if (ctx.flags.watch) return watchToEnd(ctx, c, run.id);
  ctx.print(
    `${run.id}  ${run.status}${run.waiting?.reason === "debounce" ? `  debounced until ${run.waiting.until}` : ""}`,
    run,
  );
  return 0;
};

/**
 * `--concurrency KEY=LIMIT`, repeatable: the last `=` splits, so a key may hold one
 * (`--concurrency "repo:{{input.repo}}=1"`). The API checks keys and limits (its 400 names the field).
 */
export function parseConcurrency(given: unknown): CreateRunInput["concurrency"] {
  const values = Array.isArray(given) ? (given as string[]) : typeof given === "string" ? [given] : [];
  if (values.length === 0) return undefined;
  return values.map((v) => {
    const at = v.lastIndexOf("=");
    const limit = Number(v.slice(at + 1));
    if (at <= 0 || !Number.isInteger(limit)) throw new UsageError(`--concurrency wants KEY=LIMIT, got '${v}'`);
    return { key: v.slice(0, at), limit };
  });
}

/**
 * `--debounce key=KEY,period=MS` (period also as `30s`, `5m`, `2h`): the key is everything between
 * `key=` and `,period=`, so it may hold commas. The API checks the key and bounds (400 names the field).
 */
export function parseDebounce(given: string | undefined): CreateRunInput["debounce"] {
  if (given === undefined) return undefined;
  const m = /^key=(.+),period=(\d+)(ms|s|m|h|d)?$/.exec(given);
  if (!m) throw new UsageError(`--debounce wants key=KEY,period=MS (or 30s, 5m, 2h), got '${given}'`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[3] ?? "ms") as "ms"];
  return { key: m[1] as string, periodMs: Number(m[2]) * unit };
}

const get: Command = async (ctx, args) => {
  const run = await ctx.client().getRun(need(args[0], "<run>"));
  const steps = run.steps.map(
    (s) =>
      `  ${s.id.padEnd(24)} ${s.status.padEnd(9)} attempts ${s.attempts}${s.durationMs !== null ? `  ${s.durationMs} ms` : ""}`,
  );
  ctx.print([summary(run), ...steps, ...deliveryLines(run)].join("\n"), run);
  return run.status === "failed" ? 1 : 0;
};

const control =
  (action: RunControl): Command =>
  async (ctx, args) => {
    const run = await ctx.client().control(need(args[0], "<run>"), action);
    ctx.print(`${run.id}  ${run.status}`, run);
    return 0;
  };

const remove: Command = async (ctx, args) => {
  const runId = need(args[0], "<run>");
  await ctx.client().deleteRun(runId);
  ctx.print(`${runId}  deleted`, { id: runId, deleted: true });
  return 0;
};

const retry: Command = async (ctx, args) => {
  const run = await ctx.client().retry(need(args[0], "<run>"));
  ctx.print(`${run.id}  ${run.status}  (retry of ${run.retryOf})`, run);
  return 0;
};

const logs: Command = async (ctx, args) => {
  const runId = need(args[0], "<run>");
  const c = ctx.client();
  const line = (e: EventEnvelope) =>
    ctx.flags.json
      ? JSON.stringify(e)
      : `${e.occurredAt}  ${e.type.padEnd(20)} ${e.stepId ?? ""}  ${JSON.stringify(e.data)}`;
  if (ctx.flags.follow) {
    for await (const e of c.follow(runId)) ctx.out.write(`${line(e)}\n`);
    return 0;
  }
  for (let after = 0; ; ) {
    const page = await c.events(runId, { after, limit: 1000 });
    for (const e of page.items) ctx.out.write(`${line(e)}\n`);
    if (page.nextAfter === null) return 0;
    after = page.nextAfter;
  }
};

const signal: Command = async (ctx, args) => {
  const [runId, name] = [need(args[0], "<run>"), need(args[1], "<name>")];
  const data: unknown = JSON.parse(need(ctx.flag("data-json"), "--data-json"));
  const receipt = await ctx.client().signal(runId, name, data);
  const consumed = receipt.consumedBy.length ? `completed ${receipt.consumedBy.join(", ")}` : "kept until a step waits";
  ctx.print(`signal ${name} ${receipt.repeated ? "already received" : "received"}: ${consumed}`, receipt);
  return 0;
};

export const runs: CommandGroup = {
  help: [
    "factory runs create <blueprint> --project P [--input file.json | --input-json JSON] [--priority high|normal|low] [--watch]",
    "                  [--concurrency '{{input.repo}}=1']…   at most that many runs of the key at once (docs/flow-control.md)",
    "                  [--debounce 'key={{input.repo}},period=30s']   one run per key and quiet period, with the last input",
    "factory runs create --steps file.json --project P [--watch]",
    "factory runs list [--project P] [--status S]… [--tag T]… [--meta k=v]… [--blueprint B] [--requested-by R]",
    "                  [--since 7d] [--until T] [--finished-since 1d] [--limit N] [--cursor C]",
    "factory runs cancel|retry|delete --tag T … (filter flags as list) --yes | --dry-run [--reason R]",
    "factory runs get|watch|cancel|pause|resume|retry <run>",
    "factory runs delete <run>                    a finished run, now: its state, archive, artifacts, index row",
    "factory runs logs <run> [--follow]",
    "factory runs signal <run> <name> --data-json '{…}'",
  ],
  options: {
    project: { type: "string" },
    input: { type: "string" },
    "input-json": { type: "string" },
    steps: { type: "string" },
    priority: { type: "string" },
    concurrency: { type: "string", multiple: true },
    debounce: { type: "string" },
    watch: { type: "boolean", default: false },
    limit: { type: "string" },
    cursor: { type: "string" },
    ...SEARCH_OPTIONS,
    follow: { type: "boolean", default: false },
    "data-json": { type: "string" },
  },
  commands: {
    create,
    list,
    get,
    watch: (ctx, args) => watchToEnd(ctx, ctx.client(), need(args[0], "<run>")),
    cancel: oneOrMany(control("cancel"), bulk("cancel")),
    pause: control("pause"),
    resume: control("resume"),
    delete: oneOrMany(remove, bulk("delete")),
    retry: oneOrMany(retry, bulk("retry")),
    logs,
    signal,
  },
};
