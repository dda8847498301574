/** A GitHub Actions workflow for a generated Node service. Pure: a plan in, YAML out. */
import type { ServicePlan } from "../../../../schema/jobs/generators";

export function githubActionsWorkflow(plan: ServicePlan): string {
  return `name: ci

on:
  push:
    branches: [main]
  pull_request:

permissions:
  contents: read

jobs:
  test:
    name: ${plan.name} — build and test
    runs-on: ubuntu-latest
    timeout-minutes: 10
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: ${plan.nodeVersion}
          cache: npm
      - run: npm install
      - run: npm test
`;
}
