/**
 * The run's event log, appended to as the live stream delivers: rows are added, never redrawn.
 * It scrolls inside its panel and takes focus, so a keyboard can scroll it (WCAG 2.1.1).
 */
import type { WireEvent } from "../../../../schema/api";
import { emptyState, fill, h } from "../../dom";
import { type RunPanel, section } from "./panel";

const HEAD = ["#", "Time (UTC)", "Type", "Step", "Data"];

function row(e: WireEvent): HTMLElement {
  const data = JSON.stringify(e.data);
  return h(
    "tr",
    { "data-type": e.type },
    h("td", { class: "num muted" }, e.seq),
    h("td", { class: "muted nowrap mono small", title: e.occurredAt }, e.occurredAt.slice(11, 23)),
    h("td", {}, h("span", { class: `event-type ${e.type.split(".")[0]}` }, e.type)),
    h("td", {}, e.stepId ?? ""),
    h("td", { class: "mono small data", title: data }, data === "{}" ? "" : data),
  );
}

export function eventsPanel(): RunPanel {
  const rows = h("tbody");
  const table = h(
    "table",
    { class: "table compact", "data-testid": "events" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        HEAD.map((t, i) => h("th", { class: i === 0 ? "num" : undefined, scope: "col" }, t)),
      ),
    ),
    rows,
  );
  const body = h(
    "div",
    { class: "panel-body events-scroll", tabindex: 0, role: "region", "aria-label": "Event log" },
    emptyState("No events yet."),
  );
  return {
    el: section("Events", body),
    events(batch) {
      if (batch.length === 0) return;
      if (!table.isConnected) fill(body, table);
      rows.append(...batch.map(row));
    },
  };
}
