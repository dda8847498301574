/** Lays a run's step graph out by depth: a step sits one column right of its deepest dependency. */

export interface DagNode {
  id: string;
  dependsOn: readonly string[];
}

export interface DagLayout {
  /** Column (topological level) and row of each step. */
  positions: Map<string, { level: number; row: number }>;
  /** Step ids per level, in the order they were given. */
  levels: string[][];
  /** Dependency edges between steps of this graph (dependencies on unknown ids are dropped). */
  edges: { from: string; to: string }[];
}

export function layoutDag(nodes: readonly DagNode[]): DagLayout {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const level = new Map<string, number>();
  const visiting = new Set<string>();

  // Iterative depth-first search: a long chain of steps cannot overflow the stack, and a cycle
  // (which the API refuses anyway) puts its members at level 0 instead of looping.
  for (const start of nodes) {
    if (level.has(start.id)) continue;
    const stack: { id: string; expanded: boolean }[] = [{ id: start.id, expanded: false }];
    for (let top = stack.at(-1); top !== undefined; top = stack.at(-1)) {
      const deps = (byId.get(top.id)?.dependsOn ?? []).filter((d) => byId.has(d));
      if (!top.expanded) {
        top.expanded = true;
        visiting.add(top.id);
        for (const d of deps) if (!level.has(d) && !visiting.has(d)) stack.push({ id: d, expanded: false });
        continue;
      }
      stack.pop();
      visiting.delete(top.id);
      level.set(
        top.id,
        deps.reduce((max, d) => Math.max(max, (level.get(d) ?? -1) + 1), 0),
      );
    }
  }

  const levels: string[][] = [];
  const positions = new Map<string, { level: number; row: number }>();
  for (const n of nodes) {
    const l = level.get(n.id) ?? 0;
    const column = levels[l] ?? [];
    levels[l] = column;
    column.push(n.id);
    positions.set(n.id, { level: l, row: column.length - 1 });
  }
  for (let i = 0; i < levels.length; i++) levels[i] ??= [];
  const edges = nodes.flatMap((n) => n.dependsOn.filter((d) => byId.has(d)).map((d) => ({ from: d, to: n.id })));
  return { positions, levels, edges };
}
