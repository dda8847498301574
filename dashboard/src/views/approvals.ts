/** The tenant's approval gates across runs: pending ones first (oldest first), then decided ones. */
import type { ApprovalList } from "../../../schema/api";
import { emptyState, errorState, fill, h, patch, pill, scrollBox } from "../dom";
import { elapsedMs, formatDuration, formatTime } from "../format";
import type { View } from "./view";

const REFRESH_MS = 3000;
type Approval = ApprovalList["items"][number];

const decider = (a: Approval) => (a.by?.kind === "key" ? (a.by.name ?? a.by.keyId ?? "a key") : (a.by?.kind ?? "—"));

function approvalRow(a: Approval, decided: boolean, navigate: (hash: string) => void): HTMLElement {
  return h(
    "tr",
    {
      class: "row-link",
      "data-run": a.runId,
      "data-step": a.stepId,
      "data-key": `${a.runId}/${a.stepId}`,
      onclick: () => navigate(`#/runs/${a.runId}`),
    },
    h("td", {}, h("a", { href: `#/runs/${a.runId}`, class: "mono" }, a.runId)),
    h("td", {}, a.project),
    h("td", {}, a.title),
    h("td", {}, pill(a.status)),
    h("td", { class: "num muted" }, formatDuration(elapsedMs(a.requestedAt, a.decidedAt ?? new Date().toISOString()))),
    h("td", { class: "muted" }, decided ? decider(a) : formatTime(a.requestedAt)),
  );
}

function approvalsTable(
  items: Approval[],
  testId: string,
  decided: boolean,
  navigate: (hash: string) => void,
): HTMLElement {
  const head = ["Run", "Project", "Title", "Status"];
  return scrollBox(
    decided ? "Recently decided approvals" : "Pending approvals",
    h(
      "table",
      { class: "table", "data-testid": testId },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          head.map((t) => h("th", { scope: "col" }, t)),
          h("th", { class: "num", scope: "col" }, decided ? "Waited" : "Age"),
          h("th", { scope: "col" }, decided ? "Decided by" : "Requested"),
        ),
      ),
      h(
        "tbody",
        {},
        items.map((a) => approvalRow(a, decided, navigate)),
      ),
    ),
  );
}

export const renderApprovals: View = ({ api, main, navigate, setTitle }) => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;
  const pendingBody = h("div", { class: "panel-body" });
  const decidedBody = h("div", { class: "panel-body" });

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
    setTitle(`Approvals (${pending.items.length})`);
    patch(
      pendingBody,
      pending.items.length
        ? approvalsTable(pending.items, "approvals-pending", false, navigate)
        : emptyState("Nothing waits for a decision.", "Runs with an approval step show here while they wait."),
    );
    patch(
      decidedBody,
      decided.items.length
        ? approvalsTable(decided.items, "approvals-decided", true, navigate)
        : emptyState("No decisions yet."),
    );
    timer = setTimeout(() => void load(), REFRESH_MS);
  }

  const section = (title: string, body: HTMLElement) =>
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, title)), body);
  fill(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Approvals")),
    section("Pending", pendingBody),
    section("Recently decided", decidedBody),
  );
  fill(pendingBody, h("div", { class: "loading" }, "Loading approvals…"));
  void load();
  return () => {
    disposed = true;
    clearTimeout(timer);
  };
};
