#!/usr/bin/env node
// Builds the dashboard (dashboard/) into dist/dashboard, the Worker's static assets directory
// (wrangler.toml [assets]). Runs before start, test, deploy and the browser tests; ~100 ms.
import { build } from "esbuild";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "dashboard");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// index.html, styles and _headers (the security headers Workers static assets apply).
cpSync(join(root, "dashboard", "static"), out, { recursive: true });
// The API reference at /docs: Scalar's standalone bundle (MIT), served from our own origin.
// (The package's exports do not name the bundle: find it beside its entry point.)
const scalar = join(
  dirname(createRequire(import.meta.url).resolve("@scalar/api-reference")),
  "browser",
  "standalone.js",
);
// Its stylesheet asks its own font host for Inter and a mono font whatever the options say; the
// page's CSP would block them (a console error each). Pointed at local() faces, the page uses
// the system's fonts and makes no request to another origin.
const fontHost = /url\(https:\/\/fonts\.scalar\.com\/[\w-]+\.woff2\) format\("woff2"\)/g;
const bundle = readFileSync(scalar, "utf8").replace(fontHost, 'local("system-ui")');
if (bundle.includes("https://fonts.scalar.com/")) throw new Error("Scalar's bundle still loads its fonts");
mkdirSync(join(out, "api-reference"), { recursive: true });
writeFileSync(join(out, "api-reference", "scalar.js"), bundle);
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
