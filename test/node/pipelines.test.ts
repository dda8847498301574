import { validateWorkflow } from "@action-validator/core";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { azurePipeline } from "../../src/data/jobs/pipeline/azure-pipelines";
import { githubActionsWorkflow } from "../../src/data/jobs/pipeline/github-actions";
import { planService } from "../../src/data/jobs/repo/plan";

const plans = [
  planService({ name: "billing-api" }),
  planService({ name: "x-svc", nodeVersion: 22, resources: ["orders", "users"] }),
];

describe("generated CI/CD definitions", () => {
  it.each(plans)("the GitHub Actions workflow for $name passes an independent validator (action-validator)", (plan) => {
    const yaml = githubActionsWorkflow(plan);
    expect(validateWorkflow(yaml).errors).toEqual([]);
    const doc = parse(yaml) as { jobs: { test: { steps: { run?: string; with?: { "node-version": number } }[] } } };
    expect(doc.jobs.test.steps.map((s) => s.run).filter(Boolean)).toEqual(["npm install", "npm test"]);
    expect(doc.jobs.test.steps.find((s) => s.with)?.with?.["node-version"]).toBe(plan.nodeVersion);
  });

  it.each(plans)(
    "the Azure Pipelines definition for $name is YAML with a trigger, a pool and install/test steps",
    (plan) => {
      const doc = parse(azurePipeline(plan)) as {
        trigger: unknown;
        pool: { vmImage: string };
        steps: { task?: string; script?: string; inputs?: { versionSpec: string } }[];
      };
      expect(doc.trigger).toEqual({ branches: { include: ["main"] } });
      expect(doc.pool.vmImage).toBe("ubuntu-latest");
      expect(doc.steps[0]).toMatchObject({ task: "NodeTool@0", inputs: { versionSpec: `${plan.nodeVersion}.x` } });
      expect(doc.steps.map((s) => s.script).filter(Boolean)).toEqual(["npm install", "npm test"]);
    },
  );

  it("a broken workflow is caught by the validator (the check has teeth)", () => {
    expect(validateWorkflow("name: ci\njobs: 3\n").errors.length).toBeGreaterThan(0);
  });
});
