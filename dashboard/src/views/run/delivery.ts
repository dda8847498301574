/**
 * Where a run's output was delivered (docs/delivery.md): from its delivery steps' outputs, links
 * to the remote branch's commit, the pull request, the pipeline and the build. Empty when the run
 * delivers nowhere (the panel stays hidden).
 */
import type { RunView } from "../../../../schema/api";
import { h, patch } from "../../dom";
import type { RunPanel } from "./panel";

interface Delivered {
  remoteUrl?: string;
  branch?: string;
  commitSha?: string;
  pullRequest?: { id: string; url: string } | null;
  pipeline?: { id: string; url: string };
  build?: { id: string; url: string; result: string | null };
}

/** Only http(s) links are made clickable: an output is data, never a `javascript:` URL. */
const safe = (url: string | undefined) => (url && /^https?:\/\//i.test(url) ? url : undefined);

function link(label: string, url: string | undefined, text: string) {
  const href = safe(url);
  return h(
    "div",
    { class: "field" },
    h("dt", {}, label),
    h(
      "dd",
      {},
      href ? h("a", { href, target: "_blank", rel: "noopener noreferrer", class: "mono delivery-link" }, text) : text,
    ),
  );
}

function deliveryLinks(run: RunView): HTMLElement | null {
  const steps = run.steps.filter((s) => s.status === "succeeded" && s.type.startsWith("deliver.") && s.output);
  if (steps.length === 0) return null;
  const rows = steps.flatMap((s) => {
    const o = s.output as Delivered;
    return [
      // A pipeline step's output repeats the branch it built: shown once, from the push.
      o.branch && s.type === "deliver.git"
        ? link("Branch", o.remoteUrl, `${o.branch} @ ${(o.commitSha ?? "").slice(0, 12)}`)
        : null,
      o.pullRequest ? link("Pull request", o.pullRequest.url, `#${o.pullRequest.id}`) : null,
      o.pipeline ? link("Pipeline", o.pipeline.url, o.pipeline.id) : null,
      o.build ? link("Build", o.build.url, `${o.build.id} (${o.build.result ?? "queued"})`) : null,
    ];
  });
  return h(
    "div",
    {},
    h("div", { class: "panel-head" }, h("h2", {}, "Delivered to")),
    h("div", { class: "panel-body" }, h("dl", { class: "fields" }, rows)),
  );
}

/** The run page's delivery panel: hidden until a delivery step succeeded. */
export function deliveryPanel(): RunPanel {
  const el = h("section", { class: "panel", "data-testid": "delivery", "aria-label": "Delivery", hidden: true });
  return {
    el,
    update(run) {
      const body = deliveryLinks(run);
      el.hidden = body === null;
      patch(el, body);
    },
  };
}
