import { ciRetry, reporters } from "./test/support/flaky-reporter.ts";
import { defineConfig } from "vitest/config";

// Tests that run in Node: contract checks, and end-to-end tests that start a real `wrangler dev`.
export default defineConfig({
  test: {
    include: ["test/node/**/*.test.ts", "test/e2e/**/*.test.ts"],
    environment: "node",
    testTimeout: 240_000,
    // Once more in CI only, and every test that needed it is named at the end (test/support/flaky-reporter.ts).
    retry: ciRetry,
    reporters,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
