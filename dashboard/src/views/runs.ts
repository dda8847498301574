/** The runs list: filter by project and status, page with the API's cursor, refresh while active. */
import type { RunList } from "../../../schema/api";
import { RUN_STATUSES, TERMINAL_RUN_STATUSES } from "../../../schema/vocabulary";
import { emptyState, errorState, fill, h, patch, pill, scrollBox } from "../dom";
import { elapsedMs, formatDuration, formatTime } from "../format";
import { bulkBar, keepInUrl, searchFields, searchFromHash } from "./run-search";
import { RowSelection } from "./run-select";
import type { View } from "./view";

const PAGE_SIZE = 20;
const REFRESH_MS = 3000;

type RunItem = RunList["items"][number];

type Selection = RowSelection;

function runRow(r: RunItem, navigate: (hash: string) => void, selection: Selection): HTMLElement {
  // A finished run's last change is its end; an active one has lasted until now.
  const end = TERMINAL_RUN_STATUSES.has(r.status) ? r.updatedAt : new Date().toISOString();
  return h(
    "tr",
    { class: "row-link", "data-run": r.id, "data-key": r.id, onclick: () => navigate(`#/runs/${r.id}`) },
    selection.cell(r.id),
    h("td", {}, h("a", { href: `#/runs/${r.id}`, class: "mono" }, r.id)),
    h("td", {}, r.project),
    h("td", {}, r.blueprint ?? "custom steps"),
    h("td", {}, pill(r.status), r.archivedAt ? [" ", pill("archived")] : null),
    h("td", { class: "muted" }, formatTime(r.createdAt)),
    h("td", { class: "num muted" }, formatDuration(elapsedMs(r.createdAt, end))),
  );
}

function runsTable(items: RunItem[], navigate: (hash: string) => void, selection: Selection): HTMLElement {
  const head = ["Run", "Project", "Blueprint", "Status", "Created"];
  return scrollBox(
    "Runs",
    h(
      "table",
      { class: "table", "data-testid": "runs-table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          selection.headCell(),
          head.map((t) => h("th", { scope: "col" }, t)),
          h("th", { class: "num", scope: "col" }, "Duration"),
        ),
      ),
      h(
        "tbody",
        {},
        items.map((r) => runRow(r, navigate, selection)),
      ),
    ),
  );
}

/**
 * Previous / page n / Next, made once so a refresh never takes the button a person is on;
 * `show` sets what they offer.
 */
function pagerControls(prev: () => void, next: () => void) {
  const back = h("button", { class: "btn", type: "button", onclick: prev }, "← Previous");
  const where = h("span", { class: "muted" });
  const forward = h("button", { class: "btn", type: "button", onclick: next }, "Next →");
  const el = h("nav", { class: "pager", "aria-label": "Pages of runs" }, back, where, forward);
  const show = (depth: number, hasNext: boolean) => {
    back.disabled = depth === 0;
    forward.disabled = !hasNext;
    where.textContent = `Page ${depth + 1}`;
  };
  return { el, show };
}

function filterForm(apply: () => void, reload: () => void, initial: URLSearchParams) {
  const project = h("input", {
    id: "filter-project",
    type: "search",
    placeholder: "any project",
    autocomplete: "off",
    "aria-keyshortcuts": "/",
  });
  const status = h(
    "select",
    { id: "filter-status" },
    h("option", { value: "" }, "any status"),
    RUN_STATUSES.map((s) => h("option", { value: s }, s)),
  );
  project.value = initial.get("project") ?? "";
  status.value = initial.get("status") ?? "";
  status.addEventListener("change", apply);
  const more = searchFields(initial, apply);
  const onsubmit = (ev: Event) => {
    ev.preventDefault();
    apply();
  };
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter runs", onsubmit },
    h("label", { for: "filter-project" }, "Project"),
    project,
    h("label", { for: "filter-status" }, "Status"),
    status,
    more.el,
    h("button", { class: "btn", type: "submit" }, "Apply"),
    h("button", { class: "btn btn-ghost", type: "button", onclick: reload }, "Refresh"),
  );
  /** The search the fields say: for the API (absolute times), or for the URL (`since` kept relative). */
  const search = (forApi: boolean) => {
    const q = new URLSearchParams();
    if (project.value.trim()) q.set("project", project.value.trim());
    if (status.value) q.set("status", status.value);
    more.fill(q, forApi);
    return q;
  };
  return { form, project, status, search };
}

export const renderRuns: View = ({ api, main, navigate }) => {
  // Cursors of the pages before the current one, so "Previous" can go back.
  let cursors: (string | undefined)[] = [];
  let cursor: string | undefined;
  let nextCursor: string | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;
  const body = h("div", { class: "panel-body" });
  const pager = pagerControls(
    () => {
      cursor = cursors.pop();
      void load();
    },
    () => {
      cursors.push(cursor);
      cursor = nextCursor ?? undefined;
      void load();
    },
  );
  const filters = filterForm(
    () => {
      cursors = [];
      cursor = undefined;
      void load();
    },
    () => void load(),
    searchFromHash(),
  );
  const bulk = bulkBar(
    api,
    () => filters.search(true),
    () => void load(),
  );
  const selection = new RowSelection(api, () => void load());

  async function load(): Promise<void> {
    clearTimeout(timer);
    let page: RunList;
    const search = filters.search(true);
    keepInUrl(filters.search(false));
    try {
      page = await api.searchRuns(search, { cursor, limit: PAGE_SIZE });
    } catch (err) {
      if (!disposed) fill(body, errorState(err));
      return;
    }
    if (disposed) return;
    selection.page(page.items.map((r) => r.id));
    if (page.items.length > 0) patch(body, runsTable(page.items, navigate, selection));
    else if (search.size > 0) patch(body, emptyState("No runs match these filters.", "Clear a filter to see more."));
    else patch(body, emptyState("No runs yet.", h("a", { href: "#/new" }, "Submit one")));
    nextCursor = page.nextCursor;
    pager.show(cursors.length, nextCursor !== null);
    // Keep the page current while any run on it can still change.
    if (page.items.some((r) => !TERMINAL_RUN_STATUSES.has(r.status))) timer = setTimeout(() => void load(), REFRESH_MS);
  }

  const head = h(
    "div",
    { class: "page-head" },
    h("h1", {}, "Runs"),
    h("div", { class: "actions" }, h("a", { class: "btn btn-primary", href: "#/new" }, "New run")),
  );
  fill(
    main,
    head,
    h("section", { class: "panel", "aria-label": "Runs" }, filters.form, bulk.el, selection.bar, body, pager.el),
  );
  fill(body, h("div", { class: "loading" }, "Loading runs…"));
  pager.show(0, false);
  void load();
  return () => {
    disposed = true;
    bulk.dispose();
    selection.dispose();
    clearTimeout(timer);
  };
};
