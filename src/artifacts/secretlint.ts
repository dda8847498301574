/**
 * secretlint's recommended rule set, configured once (see docs/decisions/0003). Imported lazily by
 * ./scan.ts, so only an isolate that scans evaluates it.
 */
import { lintSource } from "@secretlint/core";
import { secretLintProfiler } from "@secretlint/profiler";
import { creator as recommended } from "@secretlint/secretlint-rule-preset-recommend";

// secretlint profiles every rule on every file by default (performance marks that pile up for the
// isolate's lifetime): off, once, at load.
secretLintProfiler.setEnabled(false);

// secretlint's own `secretlint-disable` comments are not honoured: generated code must not be
// able to switch the scan off. AWS access key ids are reported alone, not only with their secret.
const CONFIG: Parameters<typeof lintSource>[0]["options"]["config"] = {
  rules: [
    {
      id: "@secretlint/secretlint-rule-preset-recommend",
      rule: recommended,
      rules: [
        { id: "@secretlint/secretlint-rule-filter-comments", disabled: true },
        { id: "@secretlint/secretlint-rule-aws", options: { enableIDScanRule: true } },
      ],
    },
  ],
};

/** One file's findings; secrets are masked in messages, and located by their range. */
export function lint(file: string, content: string, ext: string) {
  return lintSource({
    source: { filePath: file, content, contentType: "text", ext },
    options: { config: CONFIG, maskSecrets: true, noPhysicFilePath: true },
  });
}
