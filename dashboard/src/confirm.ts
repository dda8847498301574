/**
 * A confirmation asked in a modal <dialog> (not window.confirm, which a test or a screen reader
 * handles badly and a page cannot style): focus goes to Cancel, Esc cancels, and focus returns to
 * whatever opened it.
 */
import { h } from "./dom";

export function confirmAction(title: string, detail: string, verb: string): Promise<boolean> {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  return new Promise((resolve) => {
    const cancel = h("button", { class: "btn", type: "submit", value: "cancel", autofocus: true }, "Cancel");
    const dialog = h(
      "dialog",
      { class: "help-dialog", "aria-labelledby": "confirm-title", "aria-describedby": "confirm-detail" },
      h("h2", { id: "confirm-title" }, title),
      h("p", { id: "confirm-detail" }, detail),
      h(
        "form",
        { method: "dialog", class: "gate-actions" },
        cancel,
        h("button", { class: "btn btn-danger", type: "submit", value: "confirm" }, verb),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      opener?.focus();
      resolve(dialog.returnValue === "confirm");
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
