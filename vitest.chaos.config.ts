import { defineConfig } from "vitest/config";

// The chaos drill: kills the real runtime repeatedly and audits every run afterwards.
export default defineConfig({
  test: {
    include: ["test/chaos/**/*.test.ts"],
    environment: "node",
    testTimeout: 15 * 60_000,
    hookTimeout: 120_000,
  },
});
