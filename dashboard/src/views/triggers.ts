/**
 * The Triggers page (#/triggers): the tenant's triggers, each with the event type and match it
 * waits for and the run it starts; a person deletes one after a confirmation (GET/DELETE /v1/triggers).
 */
import type { TriggerView } from "../../../schema/automation";
import { confirmAction } from "../confirm";
import { emptyState, errorState, fill, h, scrollBox } from "../dom";
import { formatTime } from "../format";
import { refreshing } from "./schedules";
import type { View, ViewContext } from "./view";

/** A match as `path = value` lines; an empty match matches every event of the type. */
function matchText(match: TriggerView["match"]): HTMLElement {
  const entries = Object.entries(match);
  if (entries.length === 0) return h("span", { class: "muted" }, "every event of the type");
  return h(
    "ul",
    { class: "plain-list" },
    entries.map(([path, value]) => h("li", {}, h("code", {}, path), " = ", h("code", {}, JSON.stringify(value)))),
  );
}

function triggerRow(ctx: ViewContext, t: TriggerView, status: HTMLElement, reload: () => void): HTMLElement {
  const remove = async () => {
    if (
      !(await confirmAction(
        `Delete trigger ${t.id}?`,
        `${t.eventType} events start no more runs; the runs it started stay.`,
        "Delete",
      ))
    )
      return;
    try {
      await ctx.api.deleteTrigger(t.id);
      fill(status, `Trigger ${t.id} deleted.`);
      ctx.announce(`Trigger ${t.id} deleted.`);
    } catch (err) {
      fill(status, errorState(err));
    }
    reload();
  };
  return h(
    "tr",
    { "data-trigger": t.id, "data-key": t.id },
    h("td", {}, h("code", {}, t.eventType)),
    h("td", {}, matchText(t.match)),
    h(
      "td",
      {},
      t.project,
      t.blueprint ? h("span", { class: "muted" }, ` · ${t.blueprint}`) : h("span", { class: "muted" }, " · steps"),
    ),
    h("td", { class: "mono small" }, t.id),
    h("td", { class: "muted" }, formatTime(t.createdAt)),
    h(
      "td",
      {},
      h(
        "button",
        {
          class: "btn btn-small btn-danger",
          type: "button",
          "data-action": "delete",
          "aria-label": `Delete trigger ${t.id}`,
          onclick: remove,
        },
        "Delete",
      ),
    ),
  );
}

export const renderTriggers: View = (ctx) => {
  const body = h("div", { class: "panel-body" });
  const status = h("div", { class: "muted small", "data-testid": "trigger-status", "data-own": true });
  fill(
    ctx.main,
    h("div", { class: "page-head" }, h("h1", {}, "Triggers")),
    status,
    h("section", { class: "panel" }, body),
  );
  const head = ["Event type", "Match", "Starts", "Id", "Created", "Actions"];
  const live = refreshing(body, async () => {
    const page = await ctx.api.triggers({ limit: 200 });
    ctx.setTitle(`Triggers (${page.items.length})`);
    if (page.items.length === 0)
      return [emptyState("No triggers yet.", "Create one with POST /v1/triggers or `factory triggers create`.")];
    return [
      scrollBox(
        "Triggers",
        h(
          "table",
          { class: "table", "data-testid": "triggers" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              head.map((t) => h("th", { scope: "col" }, t)),
            ),
          ),
          h(
            "tbody",
            {},
            page.items.map((t) => triggerRow(ctx, t, status, () => live.reload())),
          ),
        ),
      ),
    ];
  });
  return live.dispose;
};
