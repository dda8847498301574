#!/usr/bin/env node
// The three TypeScript projects (the Worker and its workerd tests; Node: client, CLI, SDK and the
// node/e2e/browser tests; the dashboard) are checked at once rather than one after another: each
// tsc is one thread, and in CI they were most of the typecheck's time on a 2-core machine. Each
// one's output is printed whole when it ends, so errors of two projects never interleave.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", ".bin", "tsc");
const projects = ["tsconfig.json", "tsconfig.node.json", "dashboard/tsconfig.json"];

const check = (project) =>
  new Promise((resolve) => {
    const child = spawn(tsc, ["--noEmit", "-p", project], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", (err) => resolve({ project, code: 1, output: String(err) }));
    child.on("close", (code) => resolve({ project, code: code ?? 1, output }));
  });

const results = await Promise.all(projects.map(check));
for (const { project, code, output } of results) {
  if (output) process.stdout.write(output);
  if (code !== 0) console.error(`tsc -p ${project}: exit ${code}`);
}
process.exitCode = results.some((r) => r.code !== 0) ? 1 : 0;
