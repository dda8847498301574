/** The tenant's approval gates across runs: pending ones first (oldest first), then decided ones. */
import type { ApprovalList } from "../../../schema/api";
import { emptyState, errorState, fill, h, pill } from "../dom";
import { elapsedMs, formatDuration, formatTime } from "../format";
import type { View } from "./view";

const REFRESH_MS = 3000;
type Approval = ApprovalList["items"][number];

export const renderApprovals: View = ({ api, main, navigate }) => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;
  const pendingBody = h("div", { class: "panel-body" });
  const decidedBody = h("div", { class: "panel-body" });

  const table = (items: Approval[], testId: string, decided: boolean) =>
    h(
      "table",
      { class: "table", "data-testid": testId },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, "Run"),
          h("th", {}, "Project"),
          h("th", {}, "Title"),
          h("th", {}, "Status"),
          h("th", { class: "num" }, decided ? "Waited" : "Age"),
          h("th", {}, decided ? "Decided by" : "Requested"),
        ),
      ),
      h(
        "tbody",
        {},
        items.map((a) =>
          h(
            "tr",
            {
              class: "row-link",
              "data-run": a.runId,
              "data-step": a.stepId,
              onclick: () => navigate(`#/runs/${a.runId}`),
            },
            h("td", {}, h("a", { href: `#/runs/${a.runId}`, class: "mono" }, a.runId)),
            h("td", {}, a.project),
            h("td", {}, a.title),
            h("td", {}, pill(a.status)),
            h(
              "td",
              { class: "num muted" },
              formatDuration(elapsedMs(a.requestedAt, a.decidedAt ?? new Date().toISOString())),
            ),
            h(
              "td",
              { class: "muted" },
              decided
                ? a.by?.kind === "key"
                  ? (a.by.name ?? a.by.keyId ?? "a key")
                  : (a.by?.kind ?? "—")
                : formatTime(a.requestedAt),
            ),
          ),
        ),
      ),
    );

  async function load(): Promise<void> {
    clearTimeout(timer);
    let pending: ApprovalList;
    let decided: ApprovalList;
    try {
      [pending, decided] = await Promise.all([
        api.approvals({ status: "pending", limit: 100 }),
        api.approvals({ status: "decided", limit: 20 }),
      ]);
    } catch (err) {
      if (!disposed) fill(pendingBody, errorState(err));
      return;
    }
    if (disposed) return;
    fill(
      pendingBody,
      pending.items.length
        ? table(pending.items, "approvals-pending", false)
        : emptyState("Nothing waits for a decision.", "Runs with an approval step show here while they wait."),
    );
    fill(
      decidedBody,
      decided.items.length ? table(decided.items, "approvals-decided", true) : emptyState("No decisions yet."),
    );
    timer = setTimeout(() => void load(), REFRESH_MS);
  }

  fill(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Approvals")),
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Pending")), pendingBody),
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Recently decided")), decidedBody),
  );
  fill(pendingBody, h("div", { class: "loading" }, "Loading approvals…"));
  void load();
  return () => {
    disposed = true;
    clearTimeout(timer);
  };
};
