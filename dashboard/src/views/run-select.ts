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

/** The dialog's title, what it does to which runs, and its verb (not the bare verb: the dialog's own "Cancel" closes it). */
function confirmation(action: Action, n: number): [string, string, string] {
  const detail =
    action === "delete"
      ? "Finished runs are deleted with their artifacts; active ones are skipped."
      : action === "retry"
        ? "Failed and cancelled runs are retried as new runs; others are skipped."
        : "Active runs are cancelled; finished ones are skipped.";
  return [`${VERBS[action]} ${n} run${n === 1 ? "" : "s"}?`, detail, `${VERBS[action]} runs`];
}

/** Shows the operation's progress until it ends (or the page goes). */
async function follow(
  api: Api,
  first: OperationView,
  status: HTMLElement,
  gone: () => boolean,
  show: () => void,
): Promise<void> {
  let op = first;
  status.textContent = progress(op);
  show();
  while (op.status === "running" && !gone()) {
    await new Promise((r) => setTimeout(r, 1000));
    op = await api.getOperation(op.id);
    status.textContent = progress(op);
  }
}

/** A checkbox in a cell (a click on it does not open the run its row links to). */
function checkbox(tag: "td" | "th", attrs: Record<string, string | boolean>, onchange: (on: boolean) => void) {
  return h(
    tag,
    tag === "th" ? { scope: "col" } : { onclick: (ev: Event) => ev.stopPropagation() },
    h("input", {
      type: "checkbox",
      ...attrs,
      onchange: (ev: Event) => onchange((ev.currentTarget as HTMLInputElement).checked),
    }),
  );
}

/** The page's selected runs, the bar acting on them, and the cells that select them. */
export class RowSelection {
  private readonly selected = new Set<string>();
  private shown: string[] = [];
  private disposed = false;
  private readonly count = h("span", { class: "muted", "data-testid": "selected-count" });
  private readonly status = h("span", {
    class: "muted",
    role: "status",
    "aria-live": "polite",
    "data-testid": "select-status",
  });
  private readonly buttons = (Object.keys(VERBS) as Action[]).map((a) =>
    h(
      "button",
      {
        class: a === "retry" ? "btn" : "btn btn-danger",
        type: "button",
        "data-action": `selected-${a}`,
        onclick: () => void this.act(a),
      },
      `${VERBS[a]} selected`,
    ),
  );
  readonly bar = h(
    "div",
    { class: "filters", role: "group", "aria-label": "Selected runs", hidden: true },
    this.count,
    this.buttons,
    this.status,
  );

  constructor(
    private readonly api: Api,
    private readonly done: () => void,
  ) {}

  /** The page's runs now: a selection of runs no longer shown is dropped. */
  page(ids: string[]): void {
    this.shown = ids;
    for (const id of [...this.selected]) if (!ids.includes(id)) this.selected.delete(id);
    this.show();
  }

  /** The header's cell: selects or clears every run on the page. */
  headCell(): HTMLElement {
    const all = this.shown.length > 0 && this.shown.every((id) => this.selected.has(id));
    const attrs = { "aria-label": "Select every run on this page", "data-testid": "select-page", checked: all };
    return checkbox("th", attrs, (on) => {
      for (const id of this.shown) this.toggle(id, on);
      for (const box of document.querySelectorAll<HTMLInputElement>("input[data-select-run]")) box.checked = on;
    });
  }

  /** A row's cell: its checkbox. */
  cell(id: string): HTMLElement {
    const attrs = { "aria-label": `Select run ${id}`, "data-select-run": id, checked: this.selected.has(id) };
    return checkbox("td", attrs, (on) => this.toggle(id, on));
  }

  dispose(): void {
    this.disposed = true;
  }

  private toggle(id: string, on: boolean): void {
    if (on) this.selected.add(id);
    else this.selected.delete(id);
    this.show();
  }

  private readonly show = (): void => {
    this.bar.hidden = this.selected.size === 0 && this.status.textContent === "";
    this.count.textContent = `${this.selected.size} selected`;
    for (const b of this.buttons) b.disabled = this.selected.size === 0;
  };

  private async act(action: Action): Promise<void> {
    const ids = [...this.selected];
    if (!(await confirmAction(...confirmation(action, ids.length)))) return;
    try {
      const op = await this.api.bulkRuns({ action, ids });
      this.selected.clear();
      await follow(this.api, op, this.status, () => this.disposed, this.show);
      this.done();
    } catch (err) {
      this.status.textContent = err instanceof Error ? err.message : String(err);
      this.show();
    }
  }
}
