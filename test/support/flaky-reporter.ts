import { relative } from "node:path";
import type { Reporter, TestCase, TestModule } from "vitest/node";

/**
 * In CI a test that fails is run once more (`retry` in the configs): one test that a loaded 2-core
 * machine slows past a bound should not refuse a whole submission. A retry must never hide a flake,
 * so this reporter names every test that passed only on its retry at the end of the run; docs/testing.md says what to do with them.
 */
export default class FlakyReporter implements Reporter {
  private readonly flaky: { name: string; retries: number }[] = [];

  onTestCaseResult(testCase: TestCase): void {
    const diagnostic = testCase.diagnostic();
    if (diagnostic?.flaky)
      this.flaky.push({
        name: `${relative(process.cwd(), testCase.module.moduleId)} > ${testCase.fullName}`,
        retries: diagnostic.retryCount,
      });
  }

  onTestRunEnd(_modules: ReadonlyArray<TestModule>): void {
    if (this.flaky.length === 0) return;
    const lines = this.flaky.map((t) => `  FLAKY (passed on retry ${t.retries}): ${t.name}`);
    process.stdout.write(`\n${this.flaky.length} test(s) passed only on a retry:\n${lines.join("\n")}\n`);
  }
}

/** The retry count every config uses: once in CI, never locally (a local failure should be seen). */
export const ciRetry = process.env.CI ? 1 : 0;

/** The reporters every config uses: vitest's default, plus the list of flaky tests. */
export const reporters = ["default", new FlakyReporter()];
