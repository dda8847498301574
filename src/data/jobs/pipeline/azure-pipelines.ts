/** An Azure Pipelines definition for a generated Node service. Pure: a plan in, YAML out. */
import type { ServicePlan } from "../repo/plan";

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
