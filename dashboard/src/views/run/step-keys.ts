/**
 * Steps waiting for a flow-control key (docs/flow-control.md, "Step keys"): each names the key it
 * waits for, a slot of a concurrency key or a token of a rate key. Empty when none waits.
 */
import type { RunView } from "../../../../schema/api";
import { h, patch } from "../../dom";
import type { RunPanel } from "./panel";

type Step = RunView["steps"][number];

function line(s: Step, waiting: NonNullable<Step["waiting"]>): HTMLElement {
  const what = waiting.reason === "rate.key" ? "a token of rate key " : "a slot of concurrency key ";
  return h(
    "li",
    { "data-testid": `step-waiting-${s.id}` },
    h("code", {}, s.id),
    " waits for ",
    what,
    h("code", {}, waiting.key),
  );
}

export function stepKeysPanel(): RunPanel {
  const el = h("ul", { class: "muted small", "data-testid": "step-keys", "aria-label": "Steps waiting for a key" });
  return {
    el,
    update(r) {
      const waiting = r.steps.flatMap((s) => (s.waiting ? [line(s, s.waiting)] : []));
      el.hidden = waiting.length === 0;
      patch(el, waiting);
    },
  };
}
