/**
 * `factory`: the runtime from a terminal or a CI job. Human output by default, `--json` for
 * scripts. Exit codes: 0 success, 1 a refused call or a run that did not succeed, 2 bad usage.
 * The commands are in `commands/`, one module per group, listed in `commands/index.ts`.
 */
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { FactoryApiError } from "@factory-runtime/client";
import { GROUPS } from "./commands/index.ts";
import { type Flags, makeContext, UsageError } from "./context.ts";

/** The flags every command takes. */
const COMMON: ParseArgsOptionsConfig = {
  json: { type: "boolean", default: false },
  url: { type: "string" },
  key: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
};

const HELP = [
  "factory — Factory Runtime from the command line",
  "",
  ...Object.values(GROUPS).flatMap((g) => g.help.map((line) => `  ${line}`)),
  "",
  "Options: --json (machine output), --url, --key (else FACTORY_URL / FACTORY_API_KEY, else factory login)",
].join("\n");

/** Parses the command line against the union of every group's flags (they agree on shared names). */
function parse(argv: string[]): { flags: Flags; positionals: string[] } {
  const options = Object.assign({}, COMMON, ...Object.values(GROUPS).map((g) => g.options ?? {}));
  try {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options });
    return { flags: values, positionals };
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

async function main(flags: Flags, positionals: string[]): Promise<number> {
  const out = process.stdout;
  const [name, ...rest] = positionals;
  if (flags.help || !name) {
    out.write(`${HELP}\n`);
    return flags.help ? 0 : 2;
  }
  const group = GROUPS[name];
  if (!group) throw new UsageError(`unknown command '${name}'`);
  const ctx = makeContext(flags, out);
  const whole = group.commands[""];
  if (whole) return whole(ctx, rest);
  const [command, ...args] = rest;
  const run = command ? group.commands[command] : undefined;
  if (!run) throw new UsageError(`unknown command '${name} ${command ?? ""}'`);
  return run(ctx, args);
}

/** The exit code for a failure, after saying what went wrong on stderr. */
function fail(err: unknown, json: boolean): number {
  if (err instanceof UsageError) {
    process.stderr.write(`factory: ${err.message}\n\n${HELP}\n`);
    return 2;
  }
  if (err instanceof FactoryApiError) {
    const p = err.problem;
    const fields = (p.errors ?? []).map((e) => `\n  ${e.path}: ${e.message}`).join("");
    process.stderr.write(
      json ? `${JSON.stringify(p)}\n` : `error: ${p.title} (${p.code})${p.detail ? `\n${p.detail}` : ""}${fields}\n`,
    );
    return 1;
  }
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}

const argv = process.argv.slice(2);
let json = argv.includes("--json");
try {
  const { flags, positionals } = parse(argv);
  json = flags.json === true;
  process.exit(await main(flags, positionals));
} catch (err) {
  process.exit(fail(err, json));
}
