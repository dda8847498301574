/** Pure logic of a run's step graph: validation, readiness, and what a failure takes down. */
import type { StepStatus } from "../../../schema/vocabulary";
import type { FieldError } from "../../../schema/errors";

export interface GraphNode {
  id: string;
  dependsOn: readonly string[];
}

/** Every structural problem of a step graph, each pointing at the step that has it. */
export function validateGraph(nodes: readonly GraphNode[]): FieldError[] {
  const errors: FieldError[] = [];
  const index = new Map<string, number>();
  nodes.forEach((node, i) => {
    if (index.has(node.id)) {
      errors.push({ path: `steps[${i}].id`, message: `duplicate step id '${node.id}'` });
    } else {
      index.set(node.id, i);
    }
  });
  nodes.forEach((node, i) => {
    const seen = new Set<string>();
    for (const dep of node.dependsOn) {
      if (dep === node.id)
        errors.push({ path: `steps[${i}].dependsOn`, message: `step '${node.id}' depends on itself` });
      else if (!index.has(dep)) errors.push({ path: `steps[${i}].dependsOn`, message: `unknown step '${dep}'` });
      if (seen.has(dep)) errors.push({ path: `steps[${i}].dependsOn`, message: `'${dep}' is listed twice` });
      seen.add(dep);
    }
  });
  if (errors.length > 0) return errors;
  const cycle = findCycle(nodes);
  if (cycle) errors.push({ path: "steps", message: `dependency cycle: ${cycle.join(" → ")}` });
  return errors;
}

/** A cycle as a path of step ids (first id repeated at the end), or null. Iterative DFS. */
export function findCycle(nodes: readonly GraphNode[]): string[] | null {
  const deps = new Map(nodes.map((n) => [n.id, n.dependsOn] as const));
  const state = new Map<string, 1 | 2>(); // 1 = on the stack, 2 = done
  for (const root of nodes) {
    if (state.has(root.id)) continue;
    const stack: { id: string; next: number }[] = [{ id: root.id, next: 0 }];
    state.set(root.id, 1);
    for (let top = stack[stack.length - 1]; top !== undefined; top = stack[stack.length - 1]) {
      const child = deps.get(top.id)?.[top.next];
      if (child === undefined) {
        state.set(top.id, 2);
        stack.pop();
        continue;
      }
      top.next++;
      const s = state.get(child);
      if (s === 1) {
        const from = stack.findIndex((f) => f.id === child);
        return [...stack.slice(from).map((f) => f.id), child];
      }
      if (s === undefined && deps.has(child)) {
        state.set(child, 1);
        stack.push({ id: child, next: 0 });
      }
    }
  }
  return null;
}

export interface StepState extends GraphNode {
  status: StepStatus;
}

/** Pending steps whose dependencies have all succeeded, in the given order. */
export function readySteps(steps: readonly StepState[]): string[] {
  const status = new Map(steps.map((s) => [s.id, s.status] as const));
  return steps
    .filter((s) => s.status === "pending" && s.dependsOn.every((d) => status.get(d) === "succeeded"))
    .map((s) => s.id);
}

/** Every step that (transitively) depends on `failed`: they can never run once it has failed. */
export function dependents(steps: readonly GraphNode[], failed: string): string[] {
  const children = new Map<string, string[]>();
  for (const s of steps) {
    for (const d of s.dependsOn) {
      const list = children.get(d);
      if (list) list.push(s.id);
      else children.set(d, [s.id]);
    }
  }
  const out = new Set<string>();
  const queue = [failed];
  for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
    for (const c of children.get(id) ?? []) {
      if (!out.has(c)) {
        out.add(c);
        queue.push(c);
      }
    }
  }
  return [...out];
}
