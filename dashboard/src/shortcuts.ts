/**
 * Keyboard shortcuts (docs/dashboard.md): `/` focuses the runs filter, `g r` opens the runs,
 * `g a` the approvals, `?` shows this list. None fires while typing in a field.
 */
import { h } from "./dom";

export const SHORTCUTS: [keys: string, what: string][] = [
  ["/", "Filter the runs by project"],
  ["g then r", "Go to the runs"],
  ["g then a", "Go to the approvals"],
  ["?", "Show these shortcuts"],
];

/** How long after `g` the second key still counts. */
const CHORD_MS = 1500;

const typing = (t: EventTarget | null) =>
  t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));

/** The list of shortcuts as a modal dialog (Esc or its button closes it; focus returns). */
function helpDialog(): HTMLDialogElement {
  const dialog = h(
    "dialog",
    { class: "help-dialog", "aria-labelledby": "shortcuts-title" },
    h("h2", { id: "shortcuts-title" }, "Keyboard shortcuts"),
    h(
      "dl",
      { class: "shortcuts" },
      SHORTCUTS.flatMap(([k, what]) => [h("dt", {}, h("kbd", {}, k)), h("dd", {}, what)]),
    ),
    h("form", { method: "dialog" }, h("button", { class: "btn", type: "submit" }, "Close")),
  );
  document.body.appendChild(dialog);
  return dialog;
}

/** Focuses the runs filter, opening the runs page first when elsewhere. */
function focusFilter(go: (hash: string) => void): void {
  const find = () => document.getElementById("filter-project");
  if (!find()) go("#/runs");
  // The runs page renders its filter synchronously on navigation; wait one task for the route.
  setTimeout(() => find()?.focus(), 0);
}

export function installShortcuts(go: (hash: string) => void, signedIn: () => boolean): { showHelp(): void } {
  let dialog: HTMLDialogElement | null = null;
  let chord = 0;
  const showHelp = () => {
    dialog ??= helpDialog();
    if (!dialog.open) dialog.showModal();
  };
  document.addEventListener("keydown", (ev) => {
    if (
      dialog?.open ||
      ev.defaultPrevented ||
      ev.ctrlKey ||
      ev.metaKey ||
      ev.altKey ||
      typing(ev.target) ||
      !signedIn()
    )
      return;
    const inChord = Date.now() - chord < CHORD_MS;
    chord = 0;
    if (ev.key === "/") focusFilter(go);
    else if (ev.key === "?") showHelp();
    else if (ev.key === "g") chord = Date.now();
    else if (inChord && ev.key === "r") go("#/runs");
    else if (inChord && ev.key === "a") go("#/approvals");
    else return;
    ev.preventDefault();
  });
  return { showHelp };
}
