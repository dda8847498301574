/**
 * What every command is handed: the parsed flags, the output (human or `--json`), and the
 * clients. Commands live in `commands/`, one module per group, registered in `commands/index.ts`.
 */
import type { ParseArgsOptionsConfig } from "node:util";
import { FactoryClient } from "@factory-runtime/client";
import { DEFAULT_URL, loadConfig } from "./config.ts";

/** Bad usage: exits 2 with the help text. */
export class UsageError extends Error {}

/** The flags of a command line, by long name (a string option's value, or a boolean's). */
export type Flags = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

export interface Context {
  readonly flags: Flags;
  readonly out: NodeJS.WriteStream;
  /** A string flag's value, if given. */
  flag(name: string): string | undefined;
  /** Prints `human`, or `json` (indented) under `--json`. */
  print(human: string, json: unknown): void;
  /** A client with the tenant key: `--key`, FACTORY_API_KEY, or the saved `factory login`. */
  client(): FactoryClient;
  /** A client with the admin token: `--key` or FACTORY_ADMIN_TOKEN (never a tenant key). */
  adminClient(): FactoryClient;
}

/** One command: the arguments after its name; resolves to the exit code. */
export type Command = (ctx: Context, args: string[]) => Promise<number>;

/** A command group (`factory runs …`): its help lines, the flags it reads, its commands. */
export interface CommandGroup {
  /** Lines of `factory --help`, each a full invocation. */
  readonly help: readonly string[];
  /** Flags beyond the common ones (`--json`, `--url`, `--key`, `--help`). */
  readonly options?: ParseArgsOptionsConfig;
  /** Commands by name; the key `""` makes the group itself the command (`factory usage`). */
  readonly commands: Readonly<Record<string, Command>>;
}

export function makeContext(flags: Flags, out: NodeJS.WriteStream): Context {
  const flag = (name: string) => {
    const value = flags[name];
    return typeof value === "string" ? value : undefined;
  };
  return {
    flags,
    out,
    flag,
    print: (human, json) => out.write(flags.json ? `${JSON.stringify(json, null, 2)}\n` : `${human}\n`),
    client() {
      const given = { ...(flag("url") ? { url: flag("url") } : {}), ...(flag("key") ? { key: flag("key") } : {}) };
      const config = loadConfig(given);
      if (!config) throw new UsageError("no API key: run `factory login`, or set FACTORY_API_KEY");
      return new FactoryClient({ baseUrl: config.url, apiKey: config.key });
    },
    adminClient() {
      const token = flag("key") ?? process.env.FACTORY_ADMIN_TOKEN;
      if (!token) throw new UsageError("admin commands need the admin token: --key or FACTORY_ADMIN_TOKEN");
      const url = flag("url") ?? process.env.FACTORY_URL ?? loadConfig({})?.url ?? DEFAULT_URL;
      return new FactoryClient({ baseUrl: url, apiKey: token });
    },
  };
}

/** A required argument or flag. */
export function need(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`missing ${what}`);
  return value;
}

/** A flag or argument that must be a whole number. */
export function wholeNumber(value: string | undefined, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`${what} takes a whole number`);
  return n;
}

/** Only the keys whose value is defined (the client's queries take absent, not undefined). */
export function defined<T extends Record<string, unknown>>(query: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
