#!/usr/bin/env node
// Builds the dashboard (dashboard/) into dist/dashboard, the Worker's static assets directory
// (wrangler.toml [assets]). Runs before start, test, deploy and the browser tests; ~100 ms.
import { build } from "esbuild";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "dashboard");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// index.html, styles and _headers (the security headers Workers static assets apply).
cpSync(join(root, "dashboard", "static"), out, { recursive: true });
await build({
  entryPoints: [join(root, "dashboard", "src", "main.ts")],
  outfile: join(out, "app.js"),
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  // Sources in the bundle would show up only in a developer's devtools; keep the asset lean.
  sourcemap: false,
  legalComments: "linked",
  logLevel: "warning",
});
