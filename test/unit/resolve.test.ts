import { describe, expect, it } from "vitest";
import type { CreateRunBody, StepSpec } from "../../schema/api";
import { DEFAULT_RESOLVE_OPTIONS, type Resolution, resolveRun } from "../../src/control/resolve";
import { POOL_REGISTRY } from "../../schema/pools";
import { AppError } from "../../src/errors";
import type { ResolvedStep } from "../../schema/run";

const spec = (id: string, type: string, input: StepSpec["input"] = {}, dependsOn: string[] = []): StepSpec => ({
  id,
  type,
  input,
  dependsOn,
});
const steps = (...s: StepSpec[]): CreateRunBody => ({
  project: "p",
  failurePolicy: "fail-fast",
  priority: "normal",
  steps: s,
});
const blueprint = (name: string, input?: Record<string, unknown>): CreateRunBody => ({
  project: "p",
  failurePolicy: "fail-fast",
  priority: "normal",
  blueprint: name,
  input,
});

function ok(r: Resolution): ResolvedStep[] {
  if (!r.ok) throw new Error(`expected success, got ${r.error.code}: ${JSON.stringify(r.error.errors)}`);
  return r.steps;
}

function refused(r: Resolution, code: string): AppError {
  if (r.ok) throw new Error(`expected ${code}, got success`);
  expect(r.error).toBeInstanceOf(AppError);
  expect(r.error.code).toBe(code);
  expect(r.error.status).toBe(422);
  expect(r.error.retryable).toBe(false);
  return r.error;
}

describe("resolveRun: the microservice blueprint", () => {
  it("expands into plan/scaffold/pipeline/azure/docs/package with their pools and dependencies", () => {
    const out = ok(resolveRun(blueprint("microservice", { name: "billing-api" })));
    expect(out.map((s) => s.id)).toEqual(["plan", "scaffold", "pipeline", "azure", "docs", "package"]);
    expect(out.map((s) => s.pool)).toEqual(["repo", "repo", "pipeline", "pipeline", "repo", "repo"]);
    expect(out.map((s) => s.type)).toEqual([
      "repo.plan",
      "repo.scaffold",
      "pipeline.github-actions",
      "pipeline.azure",
      "repo.docs",
      "repo.package",
    ]);
    const byId = new Map(out.map((s) => [s.id, s]));
    expect(byId.get("plan")!.dependsOn).toEqual([]);
    expect(byId.get("scaffold")!.dependsOn).toEqual(["plan"]);
    expect(byId.get("pipeline")!.dependsOn).toEqual(["plan"]);
    expect(byId.get("docs")!.dependsOn).toEqual(["plan"]);
    expect([...byId.get("package")!.dependsOn].sort()).toEqual(["azure", "docs", "pipeline", "scaffold"]);
  });

  it("passes the blueprint input to plan and the name to package", () => {
    const input = { name: "billing-api", resources: ["invoices"], nodeVersion: 22 };
    const out = ok(resolveRun(blueprint("microservice", input)));
    expect(out[0]!.input).toEqual(input);
    expect(out.at(-1)!.input).toEqual({ name: "billing-api" });
  });

  it("approval: true puts a gate before package, in microservice, library and saas-starter; plan never sees it", () => {
    for (const name of ["microservice", "library", "saas-starter"]) {
      const plain = ok(resolveRun(blueprint(name, { name: "billing-api" })));
      const out = ok(resolveRun(blueprint(name, { name: "billing-api", approval: true })));
      const byId = new Map(out.map((s) => [s.id, s]));
      const gate = byId.get("approval")!;
      expect(gate).toMatchObject({ type: "approval", pool: "control", input: { title: "Publish billing-api?" } });
      const packaged = plain.find((s) => s.id === "package")!.dependsOn;
      expect(gate.dependsOn).toEqual(packaged);
      expect(byId.get("package")!.dependsOn).toEqual([...packaged, "approval"]);
      expect(out[0]!.input).not.toHaveProperty("approval");
      expect(plain.some((s) => s.type === "approval")).toBe(false);
    }
    expect(ok(resolveRun(blueprint("microservice", { name: "billing-api", approval: false }))).length).toBe(6);
  });

  it("applies the blueprint's retry defaults over the global ones, and the pool's timeout", () => {
    const out = ok(resolveRun(blueprint("microservice", { name: "billing-api" })));
    for (const s of out) {
      expect(s.retry).toEqual({
        maxAttempts: 2,
        initialDelayMs: 500,
        maxDelayMs: DEFAULT_RESOLVE_OPTIONS.retry.maxDelayMs,
      });
      expect(s.timeoutMs).toBe(POOL_REGISTRY[s.pool].defaultTimeoutMs);
    }
  });

  it("refuses an unknown blueprint with blueprint.not_found", () => {
    const err = refused(resolveRun(blueprint("spaceship", {})), "blueprint.not_found");
    expect(err.message).toContain("spaceship");
  });

  it.each([
    ["a name that is not a slug", { name: "Bad Name" }, "input.name"],
    ["a missing name", {}, "input.name"],
    ["an unknown field", { name: "ok-api", colour: "red" }, "input"],
    ["a node version not offered", { name: "ok-api", nodeVersion: 18 }, "input.nodeVersion"],
    ["an empty resource list", { name: "ok-api", resources: [] }, "input.resources"],
  ])("refuses %s with blueprint.invalid_input", (_what, input, path) => {
    const err = refused(resolveRun(blueprint("microservice", input)), "blueprint.invalid_input");
    expect(err.errors!.length).toBeGreaterThan(0);
    expect(err.errors!.map((e) => e.path)).toContain(path);
    for (const e of err.errors!) expect(e.message.length).toBeGreaterThan(0);
  });

  it("treats a missing input as {} (and so as a missing name)", () => {
    refused(resolveRun(blueprint("microservice")), "blueprint.invalid_input");
  });
});

describe("resolveRun: explicit steps", () => {
  it("resolves a valid graph in order with pools from the job registry", () => {
    const out = ok(
      resolveRun(
        steps(
          spec("a", "system.echo", { x: 1 }),
          spec("b", "system.sleep", { ms: 5 }, ["a"]),
          spec("c", "system.fail", { times: 1 }, ["a", "b"]),
        ),
      ),
    );
    expect(out).toEqual([
      {
        id: "a",
        type: "system.echo",
        pool: "system",
        input: { x: 1 },
        dependsOn: [],
        retry: DEFAULT_RESOLVE_OPTIONS.retry,
        timeoutMs: POOL_REGISTRY.system.defaultTimeoutMs,
      },
      {
        id: "b",
        type: "system.sleep",
        pool: "system",
        input: { ms: 5 },
        dependsOn: ["a"],
        retry: DEFAULT_RESOLVE_OPTIONS.retry,
        timeoutMs: POOL_REGISTRY.system.defaultTimeoutMs,
      },
      {
        id: "c",
        type: "system.fail",
        pool: "system",
        input: { times: 1 },
        dependsOn: ["a", "b"],
        retry: DEFAULT_RESOLVE_OPTIONS.retry,
        timeoutMs: POOL_REGISTRY.system.defaultTimeoutMs,
      },
    ]);
  });

  it("honours a step's own retry policy and timeout over the defaults", () => {
    const own = {
      ...spec("a", "system.echo"),
      retry: { maxAttempts: 7, initialDelayMs: 5 },
      timeoutMs: 1234,
      heartbeatTimeoutMs: 500,
    };
    const out = ok(resolveRun(steps(own, spec("b", "system.echo"))));
    expect(out[0]).toMatchObject({
      retry: { maxAttempts: 7, initialDelayMs: 5, maxDelayMs: 300_000 },
      timeoutMs: 1234,
      heartbeatTimeoutMs: 500,
    });
    expect(out[1]).toMatchObject({ retry: DEFAULT_RESOLVE_OPTIONS.retry, timeoutMs: 60_000 });
    expect(out[1]).not.toHaveProperty("heartbeatTimeoutMs");
  });

  it("keeps the backoff ceiling at or above the first delay", () => {
    const out = ok(resolveRun(steps({ ...spec("a", "system.echo"), retry: { initialDelayMs: 900_000 } })));
    expect(out[0]!.retry).toMatchObject({ initialDelayMs: 900_000, maxDelayMs: 900_000 });
  });

  it("refuses diagnostic job types where they are disabled", () => {
    const r = resolveRun(steps(spec("a", "system.echo")), { ...DEFAULT_RESOLVE_OPTIONS, diagnostics: false });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe("step.type_disabled");
    expect(
      resolveRun(blueprint("microservice", { name: "billing-api" }), { ...DEFAULT_RESOLVE_OPTIONS, diagnostics: false })
        .ok,
    ).toBe(true);
  });

  it("refuses an unknown step type with step.unknown_type, naming each offender", () => {
    const err = refused(
      resolveRun(steps(spec("a", "system.echo"), spec("b", "system.teleport"), spec("c", "nope"))),
      "step.unknown_type",
    );
    expect(err.errors).toEqual([
      { path: "steps[1].type", message: "unknown step type 'system.teleport'" },
      { path: "steps[2].type", message: "unknown step type 'nope'" },
    ]);
  });

  it("refuses a cycle with run.invalid_graph", () => {
    const err = refused(
      resolveRun(steps(spec("a", "system.echo", {}, ["b"]), spec("b", "system.echo", {}, ["a"]))),
      "run.invalid_graph",
    );
    expect(err.errors).toHaveLength(1);
    expect(err.errors![0]!.path).toBe("steps");
    expect(err.errors![0]!.message).toMatch(/cycle/);
  });

  it.each([
    ["duplicate ids", [spec("a", "system.echo"), spec("a", "system.echo")], "steps[1].id"],
    ["an unknown dependency", [spec("a", "system.echo", {}, ["ghost"])], "steps[0].dependsOn"],
    ["a self-dependency", [spec("a", "system.echo", {}, ["a"])], "steps[0].dependsOn"],
  ])("refuses %s with run.invalid_graph", (_what, s, path) => {
    const err = refused(resolveRun(steps(...s)), "run.invalid_graph");
    expect(err.errors!.map((e) => e.path)).toContain(path);
  });

  it("checks types before the graph", () => {
    refused(resolveRun(steps(spec("a", "nope", {}, ["a"]))), "step.unknown_type");
  });

  it("refuses bad step input with step.invalid_input and a path into the step", () => {
    const err = refused(
      resolveRun(steps(spec("a", "system.echo"), spec("s", "system.sleep", { ms: -1 }))),
      "step.invalid_input",
    );
    expect(err.errors!.length).toBeGreaterThan(0);
    expect(err.errors!.every((e) => e.path.startsWith("steps[1].input"))).toBe(true);
    expect(err.errors!.map((e) => e.path)).toContain("steps[1].input.ms");
  });

  it("reports the bad input of every step, not just the first", () => {
    const err = refused(
      resolveRun(
        steps(spec("s1", "system.sleep", { ms: "soon" }), spec("s2", "system.fail", { times: 1, extra: true })),
      ),
      "step.invalid_input",
    );
    const paths = err.errors!.map((e) => e.path);
    expect(paths.some((p) => p.startsWith("steps[0].input"))).toBe(true);
    expect(paths.some((p) => p.startsWith("steps[1].input"))).toBe(true);
  });

  it("refuses an input larger than the input limit", () => {
    const err = refused(
      resolveRun(steps(spec("a", "system.echo", { blob: "x".repeat(300 * 1024) }))),
      "step.invalid_input",
    );
    expect(err.errors).toEqual([{ path: "steps[0].input", message: expect.stringContaining("larger than") }]);
  });

  it("measures the input limit in bytes, not UTF-16 code units", () => {
    const r = resolveRun(steps(spec("a", "system.echo", { blob: "€".repeat(100_000) })));
    expect(r.ok).toBe(false);
  });
});
