/** Blueprints: named recipes that expand, after validation, into a step graph. */
import { z } from "zod";
import type { JsonObject, StepSpec } from "../../schema/api";
import { MicroserviceInput } from "../../schema/blueprints";
import { deliverySteps } from "./delivery";
import type { RetryPolicy } from "../../schema/run";

export interface Blueprint<I = unknown> {
  name: string;
  description: string;
  input: z.ZodType<I>;
  /** How long a run of it is expected to take, for the "within expected time" SLA metric. */
  expectedMs: number;
  /** Retry defaults for this blueprint's steps (over the global ones, under a step's own). */
  retry?: Partial<RetryPolicy>;
  expand(input: I): StepSpec[];
}

const step = (id: string, type: string, dependsOn: string[] = [], input: JsonObject = {}): StepSpec => ({
  id,
  type,
  input,
  dependsOn,
});

/**
 * With `approval: true`, an approval gate ("Publish <name>?") waits between the package step and
 * what it packages; the planner never sees the flag.
 */
function gated(input: MicroserviceInput, steps: StepSpec[]): StepSpec[] {
  const withDelivery = [...steps, ...deliverySteps(input.deliver)];
  if (!input.approval)
    return withDelivery.map((s) => (s.id === "plan" ? { ...s, input: withoutApproval(s.input) } : s));
  return withDelivery.flatMap((s) => {
    if (s.id === "plan") return [{ ...s, input: withoutApproval(s.input) }];
    if (s.id !== "package") return [s];
    const gate = step("approval", "approval", s.dependsOn, {
      title: `Publish ${input.name}?`,
      description: `The ${input.name} package is ready to be built from the generated sources.`,
    });
    // The package still depends on what it packages: a handler reads only its dependencies' outputs.
    return [gate, { ...s, dependsOn: [...s.dependsOn, "approval"] }];
  });
}

/** The planner sees neither the gate's flag nor where the result is delivered. */
function withoutApproval(input: StepSpec["input"]): JsonObject {
  const { approval: _, deliver: __, ...rest } = (input ?? {}) as JsonObject;
  return rest;
}

/** CI/CD definitions alone: GitHub Actions and Azure Pipelines for a Node service, zipped. */
export const pipeline: Blueprint<MicroserviceInput> = {
  name: "pipeline",
  description: "GitHub Actions and Azure Pipelines definitions for a Node service, delivered as a zip.",
  input: MicroserviceInput,
  expectedMs: 60_000,
  retry: { maxAttempts: 2, initialDelayMs: 500 },
  expand: (input) =>
    gated(input, [
      step("plan", "repo.plan", [], { ...input, modules: 0 }),
      step("github", "pipeline.github-actions", ["plan"]),
      step("azure", "pipeline.azure", ["plan"]),
      step("self-test", "pipeline.self-test", ["plan"]),
      step("package", "repo.package", ["github", "azure", "self-test"], { name: input.name }),
    ]),
};

export const microservice: Blueprint<MicroserviceInput> = {
  name: "microservice",
  description:
    "A TypeScript HTTP service with tests, a GitHub Actions pipeline and a README, delivered as a zip whose `npm install && npm test` passes.",
  input: MicroserviceInput,
  expectedMs: 120_000,
  // Generators are deterministic: a failure is rarely transient, so retry briefly.
  retry: { maxAttempts: 2, initialDelayMs: 500 },
  expand: (input) =>
    gated(input, [
      step("plan", "repo.plan", [], input),
      step("scaffold", "repo.scaffold", ["plan"]),
      step("pipeline", "pipeline.github-actions", ["plan"]),
      step("azure", "pipeline.azure", ["plan"]),
      step("docs", "repo.docs", ["plan"]),
      step("package", "repo.package", ["scaffold", "pipeline", "azure", "docs"], { name: input.name }),
    ]),
};

/** A TypeScript library package with tests and CI. */
export const library: Blueprint<MicroserviceInput> = {
  name: "library",
  description:
    "A TypeScript library (typed helpers with node:test tests) and its CI, delivered as a zip whose `npm test` passes.",
  input: MicroserviceInput,
  expectedMs: 60_000,
  retry: { maxAttempts: 2, initialDelayMs: 500 },
  expand: (input) =>
    gated(input, [
      step("plan", "repo.plan", [], { ...input, modules: 0 }),
      step("library", "repo.library", ["plan"]),
      step("pipeline", "pipeline.github-actions", ["plan"]),
      step("package", "repo.package", ["library", "pipeline"], { name: input.name }),
    ]),
};

/** A multi-tenant SaaS starter: tenants and keys, isolation, billing, CI. */
export const saasStarter: Blueprint<MicroserviceInput> = {
  name: "saas-starter",
  description:
    "A multi-tenant service skeleton (tenants, hashed API keys, tenant isolation, billing) whose `npm test` passes.",
  input: MicroserviceInput,
  expectedMs: 60_000,
  retry: { maxAttempts: 2, initialDelayMs: 500 },
  expand: (input) =>
    gated(input, [
      step("plan", "repo.plan", [], { ...input, modules: 0 }),
      step("core", "saas.core", ["plan"]),
      step("billing", "saas.billing", ["plan"]),
      step("pipeline", "pipeline.github-actions", ["plan"]),
      step("package", "repo.package", ["core", "billing", "pipeline"], { name: input.name }),
    ]),
};

const ALL = [microservice, library, saasStarter, pipeline] as Blueprint[];

export const BLUEPRINTS: ReadonlyMap<string, Blueprint> = new Map(ALL.map((b) => [b.name, b]));

/** The public description of every blueprint, its input as JSON Schema. */
export function describeBlueprints() {
  return ALL.map((b) => ({
    name: b.name,
    description: b.description,
    input: z.toJSONSchema(b.input, { io: "input" }) as Record<string, unknown>,
  }));
}
