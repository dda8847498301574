/**
 * Per-row multi-select on the runs list (issue 28): a checkbox on each row and one that selects
 * every run on the page, and an action bar that cancels, retries or deletes the selected runs
 * (`POST /v1/runs/bulk` with `ids`) after a confirmation, then follows the operation's progress.
 * The selection is of the page's runs: a refresh keeps those still shown, a new page clears it.
 */
import type { OperationView } from "../../../schema/operations";
import type { Api } from "../api";
import { confirmAction } from "../confirm";
import { h } from "../dom";

type Action = "cancel" | "retry" | "delete";
const VERBS: Record<Action, string> = { cancel: "Cancel", retry: "Retry", delete: "Delete" };

const progress = (op: OperationView) =>
  `${op.action} ${op.status}: ${op.done} done, ${op.skipped} skipped, ${op.failed} failed, ${op.pending} pending of ${op.matched}`;

export function rowSelection(api: Api, done: () => void) {
  const selected = new Set<string>();
  let page: string[] = [];
  let disposed = false;
  const count = h("span", { class: "muted", "data-testid": "selected-count" });
  const status = h("span", { class: "muted", role: "status", "aria-live": "polite", "data-testid": "select-status" });
  const buttons = (Object.keys(VERBS) as Action[]).map((a) =>
    h(
      "button",
      {
        class: a === "retry" ? "btn" : "btn btn-danger",
        type: "button",
        "data-action": `selected-${a}`,
        onclick: () => void act(a),
      },
      `${VERBS[a]} selected`,
    ),
  );
  const bar = h(
    "div",
    { class: "filters", role: "group", "aria-label": "Selected runs", hidden: true },
    count,
    buttons,
    status,
  );

  function show(): void {
    bar.hidden = selected.size === 0 && status.textContent === "";
    count.textContent = `${selected.size} selected`;
    for (const b of buttons) b.disabled = selected.size === 0;
  }

  async function act(action: Action): Promise<void> {
    const ids = [...selected];
    const ok = await confirmAction(
      `${VERBS[action]} ${ids.length} run${ids.length === 1 ? "" : "s"}?`,
      action === "delete"
        ? "Finished runs are deleted with their artifacts; active ones are skipped."
        : action === "retry"
          ? "Failed and cancelled runs are retried as new runs; others are skipped."
          : "Active runs are cancelled; finished ones are skipped.",
      // Not the bare verb: the dialog's own "Cancel" button closes it.
      `${VERBS[action]} runs`,
    );
    if (!ok) return;
    try {
      let op = await api.bulkRuns({ action, ids });
      status.textContent = progress(op);
      selected.clear();
      show();
      while (op.status === "running" && !disposed) {
        await new Promise((r) => setTimeout(r, 1000));
        op = await api.getOperation(op.id);
        status.textContent = progress(op);
      }
      done();
    } catch (err) {
      status.textContent = err instanceof Error ? err.message : String(err);
      show();
    }
  }

  const toggle = (id: string, on: boolean) => {
    if (on) selected.add(id);
    else selected.delete(id);
    show();
  };

  return {
    bar,
    /** The page's runs now: a selection of runs no longer shown is dropped. */
    page(ids: string[]): void {
      page = ids;
      for (const id of [...selected]) if (!ids.includes(id)) selected.delete(id);
      show();
    },
    /** The header's cell: selects or clears every run on the page. */
    headCell(): HTMLElement {
      const all = page.length > 0 && page.every((id) => selected.has(id));
      return h(
        "th",
        { scope: "col" },
        h("input", {
          type: "checkbox",
          "aria-label": "Select every run on this page",
          "data-testid": "select-page",
          checked: all,
          onchange: (ev: Event) => {
            const on = (ev.currentTarget as HTMLInputElement).checked;
            for (const id of page) toggle(id, on);
            for (const box of document.querySelectorAll<HTMLInputElement>("input[data-select-run]")) box.checked = on;
          },
        }),
      );
    },
    /** A row's cell: its checkbox (a click on it does not open the run). */
    cell(id: string): HTMLElement {
      return h(
        "td",
        { onclick: (ev: Event) => ev.stopPropagation() },
        h("input", {
          type: "checkbox",
          "aria-label": `Select run ${id}`,
          "data-select-run": id,
          checked: selected.has(id),
          onchange: (ev: Event) => toggle(id, (ev.currentTarget as HTMLInputElement).checked),
        }),
      );
    },
    dispose: () => {
      disposed = true;
    },
  };
}
