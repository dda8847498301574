/** `factory secrets …`: a tenant's write-only secrets (docs/delivery.md). Values are read from stdin, never from argv. */
import { readFileSync } from "node:fs";
import type { FactoryClient } from "../client/index.ts";

export const SECRETS_HELP = `  factory secrets list                         names and times, never values
  factory secrets put <name> < value.txt       create or replace (the value is read from stdin)
  factory secrets delete <name>`;

type Print = (human: string, json: unknown) => void;

export async function secretsCommand(c: FactoryClient, command: string | undefined, args: string[], print: Print) {
  const name = args[0];
  switch (command) {
    case "list": {
      const items = await c.listSecrets();
      print(
        items
          .map((s) => `${s.name.padEnd(32)} updated ${s.updatedAt}  last used ${s.lastUsedAt ?? "never"}`)
          .join("\n") || "no secrets",
        { items },
      );
      return 0;
    }
    case "put": {
      if (!name) throw new Error("missing <name>");
      // A value on the command line would land in shell history and `ps`: stdin only.
      const value = readFileSync(0, "utf8").replace(/\r?\n$/, "");
      const view = await c.putSecret(name, value);
      print(`stored ${view.name} (updated ${view.updatedAt})`, view);
      return 0;
    }
    case "delete": {
      if (!name) throw new Error("missing <name>");
      await c.deleteSecret(name);
      print(`deleted ${name}`, { name, deleted: true });
      return 0;
    }
    default:
      throw new Error("secrets: list, put <name>, or delete <name>");
  }
}
