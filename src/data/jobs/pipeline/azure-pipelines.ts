/** An Azure Pipelines definition for a generated Node service. Pure: a plan in, YAML out. */
import type { ServicePlan } from "../../../../schema/jobs/generators";
import { jsonFile } from "../repo/source";

export function azurePipeline(plan: ServicePlan): string {
  return `# ${plan.name}: build and test on every push to main and every pull request.
trigger:
  branches:
    include:
      - main

pr:
  branches:
    include:
      - "*"

pool:
  vmImage: ubuntu-latest

steps:
  - task: NodeTool@0
    displayName: Use Node.js ${plan.nodeVersion}
    inputs:
      versionSpec: "${plan.nodeVersion}.x"
  - script: npm install
    displayName: Install
  - script: npm test
    displayName: Build and test
`;
}

/**
 * For the `pipeline` blueprint, whose zip holds no service: a dependency-free `npm test` that
 * checks the definitions are present and run the project's install and tests on its Node.
 */
export function pipelineSelfTest(plan: ServicePlan): Record<string, string> {
  return {
    "package.json": jsonFile({
      name: `${plan.name}-ci`,
      private: true,
      type: "module",
      scripts: { test: "node --test test/pipelines.test.mjs" },
    }),
    "test/pipelines.test.mjs": `import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

const github = readFileSync(new URL("../.github/workflows/ci.yml", import.meta.url), "utf8");
const azure = readFileSync(new URL("../azure-pipelines.yml", import.meta.url), "utf8");

test("the GitHub Actions workflow installs and tests on Node ${plan.nodeVersion}", () => {
  assert.match(github, /^on:/m);
  assert.match(github, /node-version: ${plan.nodeVersion}/);
  assert.match(github, /- run: npm install\\n\\s+- run: npm test/);
});

test("the Azure pipeline installs and tests on Node ${plan.nodeVersion}", () => {
  assert.match(azure, /^trigger:/m);
  assert.match(azure, /versionSpec: "${plan.nodeVersion}.x"/);
  assert.match(azure, /- script: npm install[\\s\\S]*- script: npm test/);
});
`,
  };
}
