import { ciRetry, reporters } from "./test/support/flaky-reporter.ts";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { startDohServer } from "./test/e2e/support/doh.ts";

const TESTS = ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"];
/** Files that need a deployment of their own: they assert on state no other file may touch. */
const ALONE = [
  "test/integration/api-input.test.ts",
  "test/integration/usage.test.ts",
  "test/integration/fairness.test.ts",
  // Circuit breakers are one object per external service for the whole deployment: another file's
  // steps still in its queue would count towards this file's thresholds.
  "test/integration/breakers.test.ts",
  "test/integration/breaker-rate.test.ts",
  // It needs a system-pool step running within seconds: another file's leftover queue backlog
  // delayed it past its queued lease in CI (attempt 2 still queued).
  "test/integration/worker-leases.test.ts",
  // It aborts every object twice while 100 system-pool steps run: another file's queue backlog or
  // objects would share its kills and its timing.
  "test/integration/step-flow-crash.test.ts",
];

// Unit and integration tests, inside workerd, against the real local DO/Queue/R2.
export default defineConfig(async () => {
  // Webhook host names are resolved over DoH: the tests' resolver is a real server on loopback
  // with a fixed table of names (test/e2e/support/doh.ts), never the public internet.
  const doh = await startDohServer();
  return {
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
            DOH_URL: doh.url,
            DEV_API_KEY: "frk_dev_testkey00001_0000000000000000000000000000000000000000",
            ADMIN_TOKEN: "test-admin-token",
            DECISION_LINK_SECRET: "test-decision-link-secret",
            FINGERPRINT_KEY: "test-fingerprint-key",
            SECRETS_KEY: "test-secrets-key",
            KEY_MAC_KEY: "test-key-mac-key",
            // Retention periods of seconds, so runs archive and expire within a test (production: 3600).
            RETENTION_MIN_SECONDS: "2",
          },
        },
      }),
    ],
    test: {
      // One workerd per file costs ~1 s to start and re-imports every module (half of the suite's time
      // in CI), so files share their workers. The few that assert on the whole deployment's state
      // (no object created at all, every tenant counted) keep a fresh workerd each.
      projects: [
        { extends: true, test: { name: "workerd", include: TESTS, exclude: ALONE, isolate: false } },
        { extends: true, test: { name: "workerd-alone", include: ALONE } },
      ],
      testTimeout: 30_000,
      // Once more in CI only, and every test that needed it is named at the end (test/support/flaky-reporter.ts).
      retry: ciRetry,
      reporters,
    },
  };
});
