#!/usr/bin/env node
// The `factory` CLI. Its source is TypeScript run by Node's own type stripping (Node ≥ 22.18);
// under an older Node, re-run with the Node 22 this package installs.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major > 22 || (major === 22 && minor >= 18)) {
  await import("../cli/main.ts");
} else {
  const node = fileURLToPath(new URL("../node_modules/node/bin/node", import.meta.url));
  if (!existsSync(node)) {
    console.error("factory needs Node.js 22.18 or later (run `npm install` in the project to get it).");
    process.exit(2);
  }
  const result = spawnSync(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(result.status ?? 1);
}
