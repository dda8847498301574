/** Sign in with an API key: checked against the API before it is kept (in sessionStorage). */
import { Api } from "../api";
import { errorState, fill, h } from "../dom";

export function renderSignIn(onSignedIn: (key: string) => void): HTMLElement {
  const input = h("input", {
    id: "api-key",
    name: "api-key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    placeholder: "frk_…",
    "aria-describedby": "api-key-help",
  });
  const status = h("div", { class: "signin-status" });
  const button = h("button", { class: "btn btn-primary", type: "submit" }, "Sign in");
  const form = h(
    "form",
    {
      class: "signin-card",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const key = input.value.trim();
        button.disabled = true;
        fill(status);
        try {
          await new Api(key).blueprints();
          onSignedIn(key);
        } catch (err) {
          fill(status, errorState(err));
          input.select();
        } finally {
          button.disabled = false;
        }
      },
    },
    h(
      "div",
      { class: "brand brand-large" },
      h("span", { class: "brand-mark", "aria-hidden": "true" }, "F"),
      "Factory Runtime",
    ),
    h("h1", {}, "Sign in"),
    h("label", { for: "api-key" }, "API key"),
    input,
    h(
      "p",
      { id: "api-key-help", class: "help" },
      "Kept in this tab's session storage only: closing the tab or signing out forgets it. ",
      h("code", {}, "npm start"),
      " prints a development key.",
    ),
    status,
    button,
  );
  queueMicrotask(() => input.focus());
  return h("main", { class: "signin", id: "main" }, form);
}
