import { describe, expect, it } from "vitest";
import {
  dependents,
  findCycle,
  readySteps,
  validateGraph,
  type GraphNode,
  type StepState,
} from "../../src/control/run/dag";
import type { StepStatus } from "../../schema/vocabulary";

const node = (id: string, ...dependsOn: string[]): GraphNode => ({ id, dependsOn });
const step = (id: string, status: StepStatus, ...dependsOn: string[]): StepState => ({ id, status, dependsOn });

/** n0 ← n1 ← … ← n(len-1), optionally closed into a ring by making n0 depend on the last. */
function chain(len: number, closed: boolean): GraphNode[] {
  return Array.from({ length: len }, (_, i) =>
    i === 0 ? node("n0", ...(closed ? [`n${len - 1}`] : [])) : node(`n${i}`, `n${i - 1}`),
  );
}

/** Checks that a reported cycle really is one: consecutive ids are dependency edges, first = last. */
function expectRealCycle(nodes: readonly GraphNode[], cycle: string[] | null): void {
  expect(cycle).not.toBeNull();
  const path = cycle!;
  expect(path.length).toBeGreaterThanOrEqual(2);
  expect(path[path.length - 1]).toBe(path[0]);
  const deps = new Map(nodes.map((n) => [n.id, n.dependsOn]));
  for (let i = 0; i + 1 < path.length; i++) {
    expect(deps.get(path[i]!)).toContain(path[i + 1]);
  }
}

describe("validateGraph", () => {
  it("accepts a valid DAG (diamond) and an empty graph", () => {
    expect(validateGraph([node("a"), node("b", "a"), node("c", "a"), node("d", "b", "c")])).toEqual([]);
    expect(validateGraph([])).toEqual([]);
  });

  it("reports a duplicate id at the index of the second occurrence", () => {
    expect(validateGraph([node("a"), node("b"), node("a")])).toEqual([
      { path: "steps[2].id", message: "duplicate step id 'a'" },
    ]);
  });

  it("reports every duplicate beyond the first", () => {
    const errors = validateGraph([node("x"), node("x"), node("x")]);
    expect(errors.map((e) => e.path)).toEqual(["steps[1].id", "steps[2].id"]);
  });

  it("reports an unknown dependency on the step that names it", () => {
    expect(validateGraph([node("a"), node("b", "a", "ghost")])).toEqual([
      { path: "steps[1].dependsOn", message: "unknown step 'ghost'" },
    ]);
  });

  it("reports a self-dependency as such, not as an unknown step or a cycle", () => {
    const errors = validateGraph([node("a"), node("b", "b")]);
    expect(errors).toEqual([{ path: "steps[1].dependsOn", message: "step 'b' depends on itself" }]);
  });

  it("reports a dependency listed twice", () => {
    expect(validateGraph([node("a"), node("b", "a", "a")])).toEqual([
      { path: "steps[1].dependsOn", message: "'a' is listed twice" },
    ]);
  });

  it("collects several structural errors at once and skips the cycle check while they exist", () => {
    const errors = validateGraph([node("a", "b"), node("b", "a"), node("a"), node("c", "zzz")]);
    expect(errors).toContainEqual({ path: "steps[2].id", message: "duplicate step id 'a'" });
    expect(errors).toContainEqual({ path: "steps[3].dependsOn", message: "unknown step 'zzz'" });
    expect(errors.some((e) => e.message.startsWith("dependency cycle"))).toBe(false);
  });

  it("reports a two-step cycle on the steps path", () => {
    const errors = validateGraph([node("a", "b"), node("b", "a")]);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.path).toBe("steps");
    expect(errors[0]!.message).toMatch(/^dependency cycle: /);
    expect(errors[0]!.message).toContain("a");
    expect(errors[0]!.message).toContain("b");
  });

  it("reports a long cycle (5000 steps) without overflowing the stack", () => {
    const errors = validateGraph(chain(5000, true));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/^dependency cycle: /);
    // The cycle's path names all 5000 steps plus the repeated first one.
    expect(errors[0]!.message.replace("dependency cycle: ", "").split(" → ")).toHaveLength(5001);
  });

  it("accepts a long chain that is not closed", () => {
    expect(validateGraph(chain(5000, false))).toEqual([]);
  });

  it("reports a cycle that is not reachable from the first node", () => {
    const nodes = [node("root"), node("leaf", "root"), node("x", "y"), node("y", "z"), node("z", "x")];
    const errors = validateGraph(nodes);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/^dependency cycle: /);
    for (const id of ["x", "y", "z"]) expect(errors[0]!.message).toContain(id);
    expect(errors[0]!.message).not.toContain("root");
  });
});

describe("findCycle", () => {
  it("returns null for acyclic graphs, including a diamond where a node is reached twice", () => {
    expect(findCycle([])).toBeNull();
    expect(findCycle([node("a")])).toBeNull();
    expect(findCycle([node("d", "b", "c"), node("b", "a"), node("c", "a"), node("a")])).toBeNull();
  });

  it("returns the cycle with its first id repeated at the end", () => {
    const nodes = [node("a", "b"), node("b", "c"), node("c", "a")];
    const cycle = findCycle(nodes);
    expect(cycle).toEqual(["a", "b", "c", "a"]);
    expectRealCycle(nodes, cycle);
  });

  it("finds a self-loop", () => {
    expect(findCycle([node("a", "a")])).toEqual(["a", "a"]);
  });

  it("returns only the cycle, not the path that led to it", () => {
    const nodes = [node("entry", "p"), node("p", "q"), node("q", "p")];
    const cycle = findCycle(nodes);
    expectRealCycle(nodes, cycle);
    expect(cycle).not.toContain("entry");
    expect(new Set(cycle)).toEqual(new Set(["p", "q"]));
  });

  it("finds a cycle unreachable from the first node", () => {
    const nodes = [node("a"), node("b", "a"), node("c", "d"), node("d", "c")];
    const cycle = findCycle(nodes);
    expectRealCycle(nodes, cycle);
    expect(new Set(cycle)).toEqual(new Set(["c", "d"]));
  });

  it("finds a 10 000-step cycle iteratively", () => {
    const nodes = chain(10_000, true);
    const cycle = findCycle(nodes);
    expectRealCycle(nodes, cycle);
    expect(cycle).toHaveLength(10_001);
  });

  it("ignores dependencies on ids that are not in the graph", () => {
    expect(findCycle([node("a", "ghost"), node("b", "a")])).toBeNull();
  });
});

describe("readySteps", () => {
  it("returns pending steps without dependencies", () => {
    expect(readySteps([step("a", "pending"), step("b", "pending")])).toEqual(["a", "b"]);
  });

  it("needs every dependency to have succeeded", () => {
    const steps = [
      step("a", "succeeded"),
      step("b", "running"),
      step("c", "pending", "a"),
      step("d", "pending", "a", "b"),
      step("e", "pending", "b"),
    ];
    expect(readySteps(steps)).toEqual(["c"]);
  });

  it("never returns a step that is not pending", () => {
    const statuses: StepStatus[] = ["queued", "running", "retrying", "succeeded", "failed", "cancelled", "skipped"];
    expect(readySteps(statuses.map((s, i) => step(`s${i}`, s)))).toEqual([]);
  });

  it("does not treat failed, skipped or cancelled dependencies as done", () => {
    const steps = [
      step("f", "failed"),
      step("s", "skipped"),
      step("x", "cancelled"),
      step("a", "pending", "f"),
      step("b", "pending", "s"),
      step("c", "pending", "x"),
    ];
    expect(readySteps(steps)).toEqual([]);
  });

  it("never readies a step whose dependency is unknown", () => {
    expect(readySteps([step("a", "pending", "ghost")])).toEqual([]);
  });

  it("keeps the given order", () => {
    const steps = [
      step("z", "pending", "root"),
      step("root", "succeeded"),
      step("m", "pending"),
      step("a", "pending", "root"),
    ];
    expect(readySteps(steps)).toEqual(["z", "m", "a"]);
  });
});

describe("dependents", () => {
  const graph = [
    node("plan"),
    node("scaffold", "plan"),
    node("pipeline", "plan"),
    node("docs", "plan"),
    node("package", "scaffold", "pipeline", "docs"),
    node("other"),
  ];

  it("returns every transitive dependent once", () => {
    const out = dependents(graph, "plan");
    expect(new Set(out)).toEqual(new Set(["scaffold", "pipeline", "docs", "package"]));
    expect(out).toHaveLength(4);
  });

  it("does not include the failed step itself or unrelated steps", () => {
    const out = dependents(graph, "scaffold");
    expect(out).toEqual(["package"]);
  });

  it("returns nothing for a leaf or an unknown id", () => {
    expect(dependents(graph, "package")).toEqual([]);
    expect(dependents(graph, "other")).toEqual([]);
    expect(dependents(graph, "ghost")).toEqual([]);
  });

  it("follows long chains", () => {
    const out = dependents(chain(1000, false), "n0");
    expect(out).toHaveLength(999);
    expect(new Set(out).has("n999")).toBe(true);
    expect(out).not.toContain("n0");
  });
});
