/**
 * The runs page's search and bulk bar (issue 28): tag, requester and age filters kept in the page's
 * URL (`#/runs?tag=…&status=…`, so a search can be shared), and "apply to all matching": a bulk
 * operation over the search, with its progress.
 */
import type { OperationView } from "../../../schema/operations";
import type { Api } from "../api";
import { h } from "../dom";

const SINCE: [label: string, ms: number][] = [
  ["any time", 0],
  ["last hour", 3_600_000],
  ["last day", 86_400_000],
  ["last 7 days", 7 * 86_400_000],
  ["last 30 days", 30 * 86_400_000],
];

/** The search the page's URL holds (after `#/runs?`). */
export function searchFromHash(hash = location.hash): URLSearchParams {
  const at = hash.indexOf("?");
  return new URLSearchParams(at < 0 ? "" : hash.slice(at + 1));
}

/** Keeps the URL in step with the search, without a reload (a shared link opens the same search). */
export function keepInUrl(search: URLSearchParams): void {
  const text = search.toString();
  history.replaceState(null, "", `#/runs${text ? `?${text}` : ""}`);
}

export function searchFields(initial: URLSearchParams, apply: () => void) {
  const tags = h("input", {
    id: "filter-tags",
    type: "search",
    placeholder: "tags, space-separated",
    autocomplete: "off",
  });
  tags.value = initial.getAll("tag").join(" ");
  const requester = h("input", { id: "filter-requester", type: "search", placeholder: "anyone", autocomplete: "off" });
  requester.value = initial.get("requestedBy") ?? "";
  const since = h(
    "select",
    { id: "filter-since" },
    SINCE.map(([label, ms]) => h("option", { value: String(ms) }, label)),
  );
  since.value = initial.get("since") ?? "0";
  since.addEventListener("change", apply);
  const el = [
    h("label", { for: "filter-tags" }, "Tags"),
    tags,
    h("label", { for: "filter-requester" }, "Requested by"),
    requester,
    h("label", { for: "filter-since" }, "Created"),
    since,
  ];
  /** Adds these fields to `search`: the API's form, and the URL's (which keeps `since` relative). */
  const fill = (search: URLSearchParams, forApi: boolean) => {
    for (const t of tags.value.split(/[\s,]+/).filter(Boolean)) search.append("tag", t);
    if (requester.value.trim()) search.set("requestedBy", requester.value.trim());
    const ms = Number(since.value);
    if (ms > 0)
      search.set(forApi ? "createdAfter" : "since", forApi ? new Date(Date.now() - ms).toISOString() : since.value);
  };
  return { el, fill };
}

/** The search as a bulk operation's filter. */
export function filterOf(search: URLSearchParams): Record<string, unknown> {
  const f: Record<string, unknown> = {};
  const tags = search.getAll("tag");
  const statuses = search.getAll("status");
  if (tags.length) f.tags = tags;
  if (statuses.length) f.status = statuses;
  for (const name of ["project", "requestedBy", "blueprint", "createdAfter", "createdBefore", "finishedAfter"]) {
    const v = search.get(name);
    if (v) f[name] = v;
  }
  return f;
}

const line = (op: OperationView) =>
  `${op.action} ${op.status}: ${op.done} done, ${op.skipped} skipped, ${op.failed} failed, ${op.pending} pending of ${op.matched}`;

/** "Apply to all matching": counts first (a dry run), asks, then follows the operation to its end. */
export function bulkBar(api: Api, currentSearch: () => URLSearchParams, done: () => void) {
  const status = h("span", { class: "muted", role: "status", "aria-live": "polite", "data-testid": "bulk-status" });
  const action = h(
    "select",
    { id: "bulk-action", "aria-label": "Action for all matching runs" },
    h("option", { value: "cancel" }, "Cancel"),
    h("option", { value: "retry" }, "Retry"),
    h("option", { value: "delete" }, "Delete"),
  );
  let disposed = false;
  async function run(): Promise<void> {
    const filter = filterOf(currentSearch());
    const act = action.value as "cancel" | "retry" | "delete";
    try {
      const dry = await api.bulkRuns({ action: act, filter, dryRun: true });
      if (!confirm(`${act} all ${dry.matched} matching runs?`)) return;
      let op = await api.bulkRuns({ action: act, filter });
      status.textContent = line(op);
      while (op.status === "running" && !disposed) {
        await new Promise((r) => setTimeout(r, 1000));
        op = await api.getOperation(op.id);
        status.textContent = line(op);
      }
      done();
    } catch (err) {
      status.textContent = err instanceof Error ? err.message : String(err);
    }
  }
  const el = h(
    "div",
    { class: "filters", role: "group", "aria-label": "Apply to all matching runs" },
    action,
    h(
      "button",
      { class: "btn", type: "button", "data-testid": "bulk-apply", onclick: () => void run() },
      "Change all matching",
    ),
    status,
  );
  return { el, dispose: () => (disposed = true) };
}
