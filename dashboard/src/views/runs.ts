/** The runs list: filter by project and status, page with the API's cursor, refresh while active. */
import type { RunList } from "../../../schema/api";
import { RUN_STATUSES, TERMINAL_RUN_STATUSES } from "../../../schema/vocabulary";
import { emptyState, errorState, fill, h, pill } from "../dom";
import { elapsedMs, formatDuration, formatTime } from "../format";
import type { View } from "./view";

const PAGE_SIZE = 20;
const REFRESH_MS = 3000;

export const renderRuns: View = ({ api, main, navigate }) => {
  const filters = { project: "", status: "" };
  // Cursors of the pages before the current one, so "Previous" can go back.
  let cursors: (string | undefined)[] = [];
  let cursor: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;

  const body = h("div", { class: "panel-body" });
  const pager = h("div", { class: "pager" });
  const project = h("input", { id: "filter-project", type: "search", placeholder: "any project", autocomplete: "off" });
  const status = h(
    "select",
    { id: "filter-status" },
    h("option", { value: "" }, "any status"),
    RUN_STATUSES.map((s) => h("option", { value: s }, s)),
  );
  const apply = () => {
    filters.project = project.value.trim();
    filters.status = status.value;
    cursors = [];
    cursor = undefined;
    void load();
  };

  async function load(): Promise<void> {
    clearTimeout(timer);
    let page: RunList;
    try {
      page = await api.listRuns({
        project: filters.project || undefined,
        status: filters.status || undefined,
        cursor,
        limit: PAGE_SIZE,
      });
    } catch (err) {
      if (!disposed) fill(body, errorState(err));
      return;
    }
    if (disposed) return;
    if (page.items.length === 0) {
      const filtered = filters.project !== "" || filters.status !== "";
      fill(
        body,
        filtered
          ? emptyState("No runs match these filters.", "Clear a filter to see more.")
          : emptyState("No runs yet.", h("a", { href: "#/new" }, "Submit one")),
      );
    } else {
      fill(
        body,
        h(
          "table",
          { class: "table", "data-testid": "runs-table" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", {}, "Run"),
              h("th", {}, "Project"),
              h("th", {}, "Blueprint"),
              h("th", {}, "Status"),
              h("th", {}, "Created"),
              h("th", { class: "num" }, "Duration"),
            ),
          ),
          h(
            "tbody",
            {},
            page.items.map((r) =>
              h(
                "tr",
                { class: "row-link", "data-run": r.id, onclick: () => navigate(`#/runs/${r.id}`) },
                h("td", {}, h("a", { href: `#/runs/${r.id}`, class: "mono" }, r.id)),
                h("td", {}, r.project),
                h("td", {}, r.blueprint ?? "custom steps"),
                h("td", {}, pill(r.status), r.archivedAt ? [" ", pill("archived")] : null),
                h("td", { class: "muted" }, formatTime(r.createdAt)),
                // A finished run's last change is its end; an active one has lasted until now.
                h(
                  "td",
                  { class: "num muted" },
                  formatDuration(
                    elapsedMs(
                      r.createdAt,
                      TERMINAL_RUN_STATUSES.has(r.status) ? r.updatedAt : new Date().toISOString(),
                    ),
                  ),
                ),
              ),
            ),
          ),
        ),
      );
    }
    fill(
      pager,
      h(
        "button",
        {
          class: "btn",
          type: "button",
          disabled: cursors.length === 0,
          onclick: () => {
            cursor = cursors.pop();
            void load();
          },
        },
        "← Previous",
      ),
      h("span", { class: "muted" }, `Page ${cursors.length + 1}`),
      h(
        "button",
        {
          class: "btn",
          type: "button",
          disabled: page.nextCursor === null,
          onclick: () => {
            cursors.push(cursor);
            cursor = page.nextCursor ?? undefined;
            void load();
          },
        },
        "Next →",
      ),
    );
    // Keep the page current while any run on it can still change.
    if (page.items.some((r) => !TERMINAL_RUN_STATUSES.has(r.status))) timer = setTimeout(() => void load(), REFRESH_MS);
  }

  fill(
    main,
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, "Runs"),
      h("div", { class: "actions" }, h("a", { class: "btn btn-primary", href: "#/new" }, "New run")),
    ),
    h(
      "section",
      { class: "panel" },
      h(
        "form",
        {
          class: "filters",
          onsubmit: (ev: Event) => {
            ev.preventDefault();
            apply();
          },
        },
        h("label", { for: "filter-project" }, "Project"),
        project,
        h("label", { for: "filter-status" }, "Status"),
        status,
        h("button", { class: "btn", type: "submit" }, "Apply"),
        h("button", { class: "btn btn-ghost", type: "button", onclick: () => void load() }, "Refresh"),
      ),
      body,
      pager,
    ),
  );
  status.addEventListener("change", apply);
  fill(body, h("div", { class: "loading" }, "Loading runs…"));
  void load();
  return () => {
    disposed = true;
    clearTimeout(timer);
  };
};
