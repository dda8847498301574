import { defineConfig } from "vitest/config";

// Browser tests: Chromium (Debian's, driven by playwright-core) against a real `wrangler dev`.
// Not part of `npm test`: they need a Chromium that .ci/run installs.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    environment: "node",
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
