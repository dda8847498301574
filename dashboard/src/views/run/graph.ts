/** The step graph (dag-view.ts), patched in place while the run's steps keep their shape. */
import type { RunView } from "../../../../schema/api";
import { emptyState, fill, h } from "../../dom";
import { type DagView, renderDag } from "../dag-view";
import { type RunPanel, section } from "./panel";

/** The graph's shape: its steps and their dependencies; a change of shape draws it anew. */
const shapeOf = (r: RunView) => JSON.stringify(r.steps.map((s) => [s.id, s.dependsOn]));

export function graphPanel(): RunPanel {
  const body = h("div", { class: "panel-body" });
  let dag: DagView | null = null;
  let shape = "";
  return {
    el: section("Steps", body),
    update(r) {
      if (r.steps.length === 0) {
        dag?.dispose();
        dag = null;
        fill(body, emptyState("No steps yet.", "They appear once the run is validated."));
        return;
      }
      if (dag && shapeOf(r) === shape) {
        dag.update(r);
        return;
      }
      dag?.dispose();
      dag = renderDag(r);
      shape = shapeOf(r);
      fill(body, dag.el);
    },
    dispose() {
      dag?.dispose();
    },
  };
}
