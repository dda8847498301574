import { defineConfig } from "vitest/config";

// The chaos drill: kills the real runtime repeatedly and audits every run afterwards.
export default defineConfig({
  test: {
    include: ["test/chaos/**/*.test.ts"],
    environment: "node",
    // chaos:long (200 runs, 100 kills) took 718 s on a quiet machine: room for a loaded one.
    testTimeout: 30 * 60_000,
    hookTimeout: 120_000,
  },
});
