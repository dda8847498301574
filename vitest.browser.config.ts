import { ciRetry, reporters } from "./test/support/flaky-reporter.ts";
import { defineConfig } from "vitest/config";

// Browser tests: Chromium (Debian's, driven by playwright-core) against a real `wrangler dev`.
// Not part of `npm test`: they need a Chromium that .ci/run installs.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    environment: "node",
    testTimeout: 180_000,
    // Once more in CI only, and every test that needed it is named at the end (test/support/flaky-reporter.ts).
    retry: ciRetry,
    reporters,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
