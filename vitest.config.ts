import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Unit and integration tests, inside workerd, against the real local DO/Queue/R2.
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        // Short leases and backoff so failure paths run in milliseconds, not minutes.
        bindings: {
          ENVIRONMENT: "test",
          ENABLE_DIAGNOSTIC_JOBS: "true",
          LEASE_QUEUED_MS: "3000",
          LEASE_GRACE_MS: "500",
          RETRY_BASE_MS: "20",
          DEV_API_KEY: "frk_dev_testkey00001_0000000000000000000000000000000000000000",
          ADMIN_TOKEN: "test-admin-token",
        },
      },
    }),
  ],
  test: {
    include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
    testTimeout: 30_000,
  },
});
