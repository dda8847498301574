/**
 * The tenant's audit trail (docs/audit.md): who did what, to what, when and from where, newest
 * first. Filters by action and actor (`key`, `schedule`, `key:k1a2…`) go to the API as
 * `GET /v1/audit` queries; "Load more" follows the page's cursor and appends, so a long trail is
 * read page by page and never all at once.
 */
import { AUDIT_ACTIONS, type AuditEntry } from "../../../schema/audit";
import type { Api } from "../api";
import { emptyState, errorState, fill, h, patch, scrollBox } from "../dom";
import { formatTime } from "../format";
import type { View } from "./view";

const PAGE = 50;

const actorText = (e: AuditEntry) =>
  e.actor.id ? `${e.actor.kind}:${e.actor.id}${e.actor.name ? ` (${e.actor.name})` : ""}` : e.actor.kind;

function row(e: AuditEntry): HTMLElement {
  return h(
    "tr",
    { "data-key": e.id, "data-audit": e.action },
    h("td", { class: "muted" }, formatTime(e.at)),
    h("td", { class: "mono" }, e.action),
    h("td", {}, actorText(e)),
    h("td", { class: "mono" }, e.target),
    h("td", { class: "muted" }, e.ip ?? "—"),
  );
}

function table(body: HTMLElement): HTMLElement {
  return scrollBox(
    "Audit entries",
    h(
      "table",
      { class: "table", "data-testid": "audit" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Time", "Action", "Actor", "Target", "Source IP"].map((t) => h("th", { scope: "col" }, t)),
        ),
      ),
      body,
    ),
  );
}

function filters(onApply: (f: { action: string; actor: string }) => void): HTMLElement {
  const action = h(
    "select",
    { id: "audit-action", name: "action" },
    h("option", { value: "" }, "Any action"),
    AUDIT_ACTIONS.map((a) => h("option", { value: a }, a)),
  );
  const actor = h("input", {
    id: "audit-actor",
    name: "actor",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "key, schedule, key:k1a2…",
    "aria-describedby": "audit-actor-help",
  });
  const onsubmit = (ev: Event) => {
    ev.preventDefault();
    onApply({ action: action.value, actor: actor.value.trim() });
  };
  return h(
    "form",
    { class: "form", onsubmit, "data-testid": "audit-filters" },
    h("label", { for: "audit-action" }, "Action"),
    action,
    h("label", { for: "audit-actor" }, "Actor"),
    actor,
    h("p", { class: "help", id: "audit-actor-help" }, "An actor kind, or kind:id for one key, schedule or trigger."),
    h("div", { class: "form-actions" }, h("button", { class: "btn btn-primary", type: "submit" }, "Filter")),
  );
}

/** Loads pages of the trail under one filter into `list`; each call to `more` appends the next page. */
function trail(api: Api, list: HTMLElement, announce: (m: string) => void, isDisposed: () => boolean) {
  let filter = { action: "", actor: "" };
  let cursor: string | null = null;
  let rows: HTMLElement | null = null;
  const more = h("button", { class: "btn btn-ghost", type: "button", "data-testid": "audit-more" }, "Load more");
  const load = async (first: boolean): Promise<void> => {
    more.disabled = true;
    try {
      const page = await api.audit({
        limit: PAGE,
        ...(filter.action ? { action: filter.action } : {}),
        ...(filter.actor ? { actor: filter.actor } : {}),
        ...(!first && cursor ? { cursor } : {}),
      });
      if (isDisposed()) return;
      cursor = page.nextCursor;
      if (first) {
        rows = h("tbody", {}, page.items.map(row));
        patch(
          list,
          page.items.length ? table(rows) : emptyState("No audit entries.", "Nothing matches this filter yet."),
          cursor ? more : [],
        );
        announce(`${page.items.length} audit entries`);
      } else {
        rows?.append(...page.items.map(row));
        if (!cursor) more.remove();
        announce(`${page.items.length} more audit entries`);
      }
    } catch (err) {
      if (!isDisposed()) fill(list, errorState(err));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", () => void load(false));
  return {
    apply: (f: { action: string; actor: string }) => {
      filter = f;
      cursor = null;
      return load(true);
    },
  };
}

export const renderAudit: View = ({ api, main, announce }) => {
  let disposed = false;
  const list = h("div", { class: "panel-body" }, h("div", { class: "loading" }, "Loading the audit trail…"));
  const t = trail(api, list, announce, () => disposed);
  fill(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Audit")),
    h(
      "section",
      { class: "panel" },
      h(
        "div",
        { class: "panel-body" },
        filters((f) => void t.apply(f)),
      ),
    ),
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Entries")), list),
  );
  void t.apply({ action: "", actor: "" });
  return () => {
    disposed = true;
  };
};
