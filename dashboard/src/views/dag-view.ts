/**
 * The step graph: steps in columns by depth (dag.ts), edges drawn as SVG curves between the
 * boxes once the browser has laid them out, and again whenever the panel changes size.
 */
import type { RunView } from "../../../schema/api";
import { layoutDag } from "../dag";
import { h, pill } from "../dom";
import { formatDuration } from "../format";

const SVG = "http://www.w3.org/2000/svg";
/** Steps drawn per column; the rest of a wider level is summarised in one box. */
const MAX_PER_LEVEL = 12;

export function renderDag(run: RunView): { el: HTMLElement; dispose(): void } {
  const layout = layoutDag(run.steps);
  const byId = new Map(run.steps.map((s) => [s.id, s]));
  const stepOf = (id: string) => {
    const s = byId.get(id);
    if (!s) throw new Error(`the DAG layout has a step the run does not: ${id}`);
    return s;
  };
  const boxes = new Map<string, HTMLElement>();
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "dag-edges");
  svg.setAttribute("aria-hidden", "true");

  const columns = layout.levels.map((ids, level) => {
    const shown = ids.length > MAX_PER_LEVEL ? ids.slice(0, MAX_PER_LEVEL - 1) : ids;
    const hidden = ids.slice(shown.length);
    const nodes = shown.map((id) => {
      const s = stepOf(id);
      const box = h(
        "div",
        {
          class: `dag-node status-${s.status}`,
          "data-step": s.id,
          tabindex: 0,
          title: s.error ? `${s.error.code}: ${s.error.message}` : `${s.type} on the ${s.pool} pool`,
        },
        h("div", { class: "dag-node-head" }, h("span", { class: "dag-node-id" }, s.id), pill(s.status)),
        h("div", { class: "dag-node-meta" }, h("span", { class: "mono" }, s.type)),
        h(
          "div",
          { class: "dag-node-meta" },
          `${s.attempts} attempt${s.attempts === 1 ? "" : "s"} · ${formatDuration(s.durationMs)}`,
        ),
      );
      boxes.set(id, box);
      return box;
    });
    if (hidden.length > 0) {
      // A wide fan-out (a planner spawning hundreds of steps) folds into one box of counts.
      const counts = new Map<string, number>();
      for (const id of hidden) {
        const { status } = stepOf(id);
        counts.set(status, (counts.get(status) ?? 0) + 1);
      }
      const more = h(
        "div",
        { class: "dag-node dag-node-more", tabindex: 0 },
        h("div", { class: "dag-node-head" }, h("span", { class: "dag-node-id" }, `+${hidden.length} more steps`)),
        h("div", { class: "dag-node-meta" }, [...counts].map(([status, n]) => `${n} ${status}`).join(" · ")),
      );
      for (const id of hidden) boxes.set(id, more);
      nodes.push(more);
    }
    return h("div", { class: "dag-column", "data-level": level }, nodes);
  });
  const graph = h("div", { class: "dag-graph" }, columns);
  const el = h("div", { class: "dag", "data-testid": "dag" }, svg, graph);

  const drawEdges = () => {
    const origin = el.getBoundingClientRect();
    svg.setAttribute("width", String(el.scrollWidth));
    svg.setAttribute("height", String(el.scrollHeight));
    svg.replaceChildren();
    const drawn = new Map<HTMLElement, Set<HTMLElement>>();
    for (const { from, to } of layout.edges) {
      const boxA = boxes.get(from);
      const boxB = boxes.get(to);
      if (!boxA || !boxB) continue;
      // Edges into or out of a folded box are drawn once.
      const targets = drawn.get(boxA) ?? new Set<HTMLElement>();
      if (targets.has(boxB)) continue;
      drawn.set(boxA, targets.add(boxB));
      const a = boxA.getBoundingClientRect();
      const b = boxB.getBoundingClientRect();
      const x1 = a.right - origin.left + el.scrollLeft;
      const y1 = a.top + a.height / 2 - origin.top;
      const x2 = b.left - origin.left + el.scrollLeft;
      const y2 = b.top + b.height / 2 - origin.top;
      const mid = (x1 + x2) / 2;
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("d", `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`);
      path.setAttribute("class", `dag-edge ${byId.get(from)?.status === "succeeded" ? "done" : ""}`);
      svg.appendChild(path);
    }
  };
  const observer = new ResizeObserver(() => drawEdges());
  observer.observe(el);
  return { el, dispose: () => observer.disconnect() };
}
