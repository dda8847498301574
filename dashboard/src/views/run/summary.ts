/** The run's facts: project, blueprint, times, policy, trace, lineage and its error if it failed. */
import type { RunView } from "../../../../schema/api";
import { TERMINAL_RUN_STATUSES } from "../../../../schema/vocabulary";
import { h, patch } from "../../dom";
import { NONE, elapsedMs, formatDuration, formatTime } from "../../format";
import type { RunPanel } from "./panel";
import { runOrigin } from "./origin";

const item = (label: string, value: Node | string) =>
  h("div", { class: "field" }, h("dt", {}, label), h("dd", {}, value));
const link = (other: string | null) => (other ? h("a", { href: `#/runs/${other}`, class: "mono" }, other) : NONE);

function fields(r: RunView): HTMLElement {
  const active = !TERMINAL_RUN_STATUSES.has(r.status);
  const end = r.finishedAt ?? (active ? new Date().toISOString() : null);
  return h(
    "dl",
    { class: "fields" },
    item("Project", r.project),
    item("Blueprint", r.blueprint ?? "custom steps"),
    item("Created", formatTime(r.createdAt)),
    item("Started", formatTime(r.startedAt)),
    item("Finished", formatTime(r.finishedAt)),
    item("Duration", formatDuration(elapsedMs(r.startedAt ?? r.createdAt, end))),
    item("Started by", runOrigin(r.origin)),
    item("Priority", r.priority),
    item("Failure policy", r.failurePolicy),
    item("Trace", h("span", { class: "mono small" }, r.traceId)),
    item("Retry of", link(r.retryOf)),
    item("Retried as", link(r.retriedAs)),
    item("Archived", formatTime(r.archivedAt)),
  );
}

export function summaryPanel(): RunPanel {
  const el = h("section", { class: "panel", "aria-label": "Summary" }, h("div", { class: "loading" }, "Loading run…"));
  return {
    el,
    update(r) {
      patch(
        el,
        fields(r),
        r.error
          ? h(
              "div",
              { class: "error", role: "alert" },
              h("p", { class: "error-title" }, r.error.code),
              h("p", { class: "error-detail" }, r.error.message),
            )
          : null,
      );
    },
  };
}
