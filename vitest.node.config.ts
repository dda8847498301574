import { defineConfig } from "vitest/config";

// Tests that run in Node: contract checks, and end-to-end tests that start a real `wrangler dev`.
export default defineConfig({
  test: {
    include: ["test/node/**/*.test.ts", "test/e2e/**/*.test.ts"],
    environment: "node",
    testTimeout: 240_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
