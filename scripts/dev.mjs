#!/usr/bin/env node
// `npm start`: make sure local secrets exist, print the dev API key, run `wrangler dev`.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const varsPath = join(root, ".dev.vars");
const examplePath = join(root, ".dev.vars.example");

const BASE32 = "0123456789abcdefghjkmnpqrstvwxyz";
const base32 = (n) => [...randomBytes(n)].map((b) => BASE32[b & 31]).join("");

/** A fresh value for a secret named in .dev.vars.example as `NAME=generate`. */
function generate(name) {
  // API keys name their tenant: frk_<tenant>_<keyId>_<secret> (see src/lib/keys.ts).
  if (name === "DEV_API_KEY") return `frk_dev_${base32(12)}_${base32(40)}`;
  return randomBytes(32).toString("hex");
}

const fill = (text) => text.replace(/^([A-Z0-9_]+)=generate$/gm, (_, name) => `${name}=${generate(name)}`);
if (!existsSync(varsPath)) {
  writeFileSync(varsPath, fill(readFileSync(examplePath, "utf8")), { mode: 0o600 });
  console.log("Created .dev.vars with fresh random secrets.");
} else {
  // An older .dev.vars may lack settings added to the example since: append them.
  const have = readFileSync(varsPath, "utf8");
  const missing = readFileSync(examplePath, "utf8")
    .split("\n")
    .filter((l) => /^[A-Z0-9_]+=/.test(l) && !new RegExp(`^${l.slice(0, l.indexOf("="))}=`, "m").test(have));
  if (missing.length > 0) {
    appendFileSync(varsPath, `${have.endsWith("\n") ? "" : "\n"}${fill(missing.join("\n"))}\n`);
    console.log(`Added to .dev.vars: ${missing.map((l) => l.slice(0, l.indexOf("="))).join(", ")}`);
  }
}

const vars = Object.fromEntries(
  readFileSync(varsPath, "utf8")
    .split("\n")
    .filter((l) => /^[A-Z0-9_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
);
const port = process.env.PORT ?? "8787";
console.log(`\nFactory Runtime on http://127.0.0.1:${port}\nDev API key (tenant "dev"): ${vars.DEV_API_KEY}\n`);

const child = spawn(
  join(root, "node_modules", ".bin", "wrangler"),
  ["dev", "--ip", "127.0.0.1", "--port", port, ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
