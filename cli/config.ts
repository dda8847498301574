/** Where the CLI finds its runtime URL and API key: flags, then environment, then `factory login`. */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface Config {
  url: string;
  key: string;
}

export const DEFAULT_URL = "http://127.0.0.1:8787";

export function configPath(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "factory", "config.json");
}

export function saveConfig(config: Config): string {
  const path = configPath();
  mkdirSync(join(path, ".."), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600); // also when the file already existed with looser bits
  return path;
}

export function loadConfig(flags: { url?: string; key?: string }): Config | null {
  const saved = existsSync(configPath()) ? (JSON.parse(readFileSync(configPath(), "utf8")) as Partial<Config>) : {};
  const url = flags.url ?? process.env.FACTORY_URL ?? saved.url ?? DEFAULT_URL;
  const key = flags.key ?? process.env.FACTORY_API_KEY ?? saved.key;
  return key ? { url, key } : null;
}

/** The dev key from the project's .dev.vars, for `factory login --dev` and `factory demo`. */
export function devKey(dir = process.cwd()): string | null {
  const path = join(dir, ".dev.vars");
  if (!existsSync(path)) return null;
  const line = readFileSync(path, "utf8")
    .split("\n")
    .find((l) => l.startsWith("DEV_API_KEY="));
  return line ? line.slice("DEV_API_KEY=".length).trim() : null;
}
