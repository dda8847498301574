/**
 * The step graph: steps in columns by depth (dag.ts), edges drawn as SVG curves between the
 * boxes once the browser has laid them out, and again whenever the panel changes size.
 */
import type { RunView } from "../../../schema/api";
import { layoutDag } from "../dag";
import { h, pill } from "../dom";
import { formatDuration } from "../format";

const SVG = "http://www.w3.org/2000/svg";

export function renderDag(run: RunView): { el: HTMLElement; dispose(): void } {
  const layout = layoutDag(run.steps);
  const byId = new Map(run.steps.map((s) => [s.id, s]));
  const boxes = new Map<string, HTMLElement>();
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "dag-edges");
  svg.setAttribute("aria-hidden", "true");

  const columns = layout.levels.map((ids, level) =>
    h(
      "div",
      { class: "dag-column", "data-level": level },
      ids.map((id) => {
        const s = byId.get(id)!;
        const box = h(
          "div",
          { class: `dag-node status-${s.status}`, "data-step": s.id, tabindex: 0, title: s.error ? `${s.error.code}: ${s.error.message}` : `${s.type} on the ${s.pool} pool` },
          h("div", { class: "dag-node-head" }, h("span", { class: "dag-node-id" }, s.id), pill(s.status)),
          h("div", { class: "dag-node-meta" }, h("span", { class: "mono" }, s.type)),
          h("div", { class: "dag-node-meta" }, `${s.attempts} attempt${s.attempts === 1 ? "" : "s"} · ${formatDuration(s.durationMs)}`),
        );
        boxes.set(id, box);
        return box;
      }),
    ),
  );
  const graph = h("div", { class: "dag-graph" }, columns);
  const el = h("div", { class: "dag", "data-testid": "dag" }, svg, graph);

  const drawEdges = () => {
    const origin = el.getBoundingClientRect();
    svg.setAttribute("width", String(el.scrollWidth));
    svg.setAttribute("height", String(el.scrollHeight));
    svg.replaceChildren();
    for (const { from, to } of layout.edges) {
      const a = boxes.get(from)?.getBoundingClientRect();
      const b = boxes.get(to)?.getBoundingClientRect();
      if (!a || !b) continue;
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
