/** `factory login` and `factory demo`: getting started against a runtime. */
import { resolve } from "node:path";
import { FactoryClient } from "@factory-runtime/client";
import { DEFAULT_URL, devKey, saveConfig } from "../config.ts";
import { type CommandGroup, UsageError } from "../context.ts";
import { download } from "./artifacts.ts";
import { deliverDemo } from "./demo-deliver.ts";
import { watchToEnd } from "./runs.ts";

export const login: CommandGroup = {
  help: ["factory login [--url URL] (--key KEY | --dev)"],
  options: { dev: { type: "boolean", default: false } },
  commands: {
    "": async (ctx) => {
      const key = ctx.flag("key") ?? (ctx.flags.dev ? devKey() : null);
      if (!key) throw new UsageError("give --key KEY, or --dev in a project with .dev.vars");
      const url = ctx.flag("url") ?? DEFAULT_URL;
      await new FactoryClient({ baseUrl: url, apiKey: key }).listRuns({ limit: 1 }); // proves the key works
      const path = saveConfig({ url, key });
      ctx.print(`Logged in to ${url}; saved to ${path} (mode 0600).`, { url, path });
      return 0;
    },
  },
};

/** A microservice run against the local runtime, watched, then downloaded. */
export const demo: CommandGroup = {
  help: ["factory demo [--name NAME] [--deliver]   --deliver: push it to a local git http-backend and print the clone"],
  options: { name: { type: "string" }, deliver: { type: "boolean", default: false } },
  commands: {
    "": async (ctx) => {
      const key = ctx.flag("key") ?? process.env.FACTORY_API_KEY ?? devKey();
      if (!key) throw new UsageError("no dev key: run `npm start` once in this project (it creates .dev.vars)");
      const url = ctx.flag("url") ?? process.env.FACTORY_URL ?? DEFAULT_URL;
      const c = new FactoryClient({ baseUrl: url, apiKey: key });
      const name = ctx.flag("name") ?? "demo-api";
      if (ctx.flags.deliver) return deliverDemo(ctx, c, name);
      ctx.out.write(`Generating '${name}' with the microservice blueprint…\n`);
      const run = await c.createRun({ project: "demo", blueprint: "microservice", input: { name } });
      const code = await watchToEnd(ctx, c, run.id);
      if (code !== 0) return code;
      const [zip] = await download(c, run.id, `${name}.zip`, resolve("demo-output"));
      ctx.out.write(
        `\nDone: ${zip}\nTry it: cd demo-output && unzip ${name}.zip && cd ${name} && npm install && npm test\n`,
      );
      return 0;
    },
  },
};
