import { describe, expect, it } from "vitest";
import { layoutDag } from "../../../dashboard/src/dag";

describe("layoutDag", () => {
  it("puts each step one level right of its deepest dependency", () => {
    const layout = layoutDag([
      { id: "package", dependsOn: ["scaffold", "docs", "plan"] },
      { id: "plan", dependsOn: [] },
      { id: "scaffold", dependsOn: ["plan"] },
      { id: "docs", dependsOn: ["plan"] },
    ]);
    expect(layout.levels).toEqual([["plan"], ["scaffold", "docs"], ["package"]]);
    expect(layout.positions.get("docs")).toEqual({ level: 1, row: 1 });
    expect(layout.edges).toContainEqual({ from: "plan", to: "package" });
    expect(layout.edges).toHaveLength(5);
  });

  it("drops dependencies on unknown steps and survives a cycle", () => {
    const layout = layoutDag([
      { id: "a", dependsOn: ["ghost"] },
      { id: "b", dependsOn: ["c"] },
      { id: "c", dependsOn: ["b"] },
    ]);
    expect(layout.positions.get("a")).toEqual({ level: 0, row: 0 });
    expect(layout.edges).not.toContainEqual(expect.objectContaining({ from: "ghost" }));
    expect([...layout.positions.keys()].sort()).toEqual(["a", "b", "c"]);
  });

  it("lays out a chain of 5000 steps without deep recursion", () => {
    const chain = Array.from({ length: 5000 }, (_, i) => ({ id: `s${i}`, dependsOn: i === 0 ? [] : [`s${i - 1}`] }));
    const layout = layoutDag(chain);
    expect(layout.positions.get("s4999")?.level).toBe(4999);
  });
});
