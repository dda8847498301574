/**
 * The step graph: steps in columns by depth (dag.ts), edges drawn as SVG curves between the
 * boxes once the browser has laid them out, and again whenever the panel changes size.
 */
import type { RunView } from "../../../schema/api";
import { type DagLayout, layoutDag } from "../dag";
import { h, patch, pill } from "../dom";
import { formatDuration } from "../format";

const SVG = "http://www.w3.org/2000/svg";
/** Steps drawn per column; the rest of a wider level is summarised in one box. */
const MAX_PER_LEVEL = 12;

type Step = RunView["steps"][number];

export interface DagView {
  el: HTMLElement;
  /** The same graph with the run's new step states: boxes patched, edges redrawn. */
  update(run: RunView): void;
  dispose(): void;
}

const nodeAttrs = (s: Step) => ({
  class: `dag-node status-${s.status}`,
  "data-step": s.id,
  tabindex: 0,
  title: s.error ? `${s.error.code}: ${s.error.message}` : `${s.type} on the ${s.pool} pool`,
});

function nodeContent(s: Step): HTMLElement[] {
  return [
    h("div", { class: "dag-node-head" }, h("span", { class: "dag-node-id" }, s.id), pill(s.status)),
    h("div", { class: "dag-node-meta" }, h("span", { class: "mono" }, s.type)),
    h(
      "div",
      { class: "dag-node-meta" },
      `${s.attempts} attempt${s.attempts === 1 ? "" : "s"} · ${formatDuration(s.durationMs)}`,
    ),
  ];
}

/** A wide fan-out (a planner spawning hundreds of steps) folds into one box of counts. */
function moreContent(hidden: Step[]): HTMLElement[] {
  const counts = new Map<string, number>();
  for (const { status } of hidden) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [
    h("div", { class: "dag-node-head" }, h("span", { class: "dag-node-id" }, `+${hidden.length} more steps`)),
    h("div", { class: "dag-node-meta" }, [...counts].map(([status, n]) => `${n} ${status}`).join(" · ")),
  ];
}

/** Each level's boxes; `boxes` maps every step (folded ones too) to the box that shows it. */
function columns(layout: DagLayout, stepOf: (id: string) => Step, boxes: Map<string, HTMLElement>): HTMLElement[] {
  return layout.levels.map((ids, level) => {
    const shown = ids.length > MAX_PER_LEVEL ? ids.slice(0, MAX_PER_LEVEL - 1) : ids;
    const hidden = ids.slice(shown.length);
    const nodes = shown.map((id) => {
      const s = stepOf(id);
      const box = h("div", nodeAttrs(s), nodeContent(s));
      boxes.set(id, box);
      return box;
    });
    if (hidden.length > 0) {
      const more = h(
        "div",
        { class: "dag-node dag-node-more", tabindex: 0, "data-more": level },
        moreContent(hidden.map(stepOf)),
      );
      for (const id of hidden) boxes.set(id, more);
      nodes.push(more);
    }
    return h("div", { class: "dag-column", "data-level": level }, nodes);
  });
}

function drawEdges(
  el: HTMLElement,
  svg: SVGSVGElement,
  layout: DagLayout,
  boxes: Map<string, HTMLElement>,
  done: (id: string) => boolean,
): void {
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
    path.setAttribute("class", `dag-edge ${done(from) ? "done" : ""}`);
    svg.appendChild(path);
  }
}

export function renderDag(run: RunView): DagView {
  const layout = layoutDag(run.steps);
  let byId = new Map(run.steps.map((s) => [s.id, s]));
  const stepOf = (id: string) => {
    const s = byId.get(id);
    if (!s) throw new Error(`the DAG layout has a step the run does not: ${id}`);
    return s;
  };
  const boxes = new Map<string, HTMLElement>();
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "dag-edges");
  svg.setAttribute("aria-hidden", "true");
  const graph = h("div", { class: "dag-graph" }, columns(layout, stepOf, boxes));
  // Wider than a phone: it scrolls inside its panel, by keyboard too (its boxes take focus).
  const el = h("div", { class: "dag", "data-testid": "dag", role: "group", "aria-label": "Step graph" }, svg, graph);
  const redraw = () => drawEdges(el, svg, layout, boxes, (id) => byId.get(id)?.status === "succeeded");
  const observer = new ResizeObserver(redraw);
  observer.observe(el);
  return {
    el,
    update(next) {
      byId = new Map(next.steps.map((s) => [s.id, s]));
      // The fresh boxes are only a pattern: patch() carries their state onto the boxes on the page.
      patch(graph, columns(layout, stepOf, new Map()));
      redraw();
    },
    dispose: () => observer.disconnect(),
  };
}
