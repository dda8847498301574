/**
 * The Python worker SDK's own unittest suite (sdk/python/tests), run under `npm test` so the README's
 * test command covers it. It needs `python3` ≥ 3.11 (.ci/run installs Debian's when missing).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";

it("the Python SDK's unittest suite passes", () => {
  const result = spawnSync("python3", ["-m", "unittest", "discover", "-s", "tests", "-t", "."], {
    cwd: join(import.meta.dirname, "..", "..", "sdk", "python"),
    encoding: "utf8",
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    timeout: 180_000,
  });
  expect(result.error, "python3 must be installed").toBeUndefined();
  expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
  expect(result.stderr).toMatch(/Ran \d+ tests/);
}, 200_000);
