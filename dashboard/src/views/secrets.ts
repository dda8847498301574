/**
 * The tenant's secrets (docs/delivery.md): their names and times, a form to set one, and delete
 * with a confirmation. Values are write-only: the API never answers one, and the page never
 * keeps one longer than the request that sends it (the field is cleared whatever the answer).
 */
import type { SecretView } from "../../../schema/secrets";
import type { Api } from "../api";
import { emptyState, errorState, fill, h, patch, scrollBox, submitting } from "../dom";
import { formatTime } from "../format";
import type { View } from "./view";

type Reload = () => Promise<void>;

/** A row's delete: asks first, in place (the confirm button takes focus; Cancel puts it back). */
function deleteCell(s: SecretView, api: Api, reload: Reload, announce: (m: string) => void): HTMLElement {
  const cell = h("td", {});
  const ask = (): void => {
    const yes = h("button", { class: "btn btn-danger", type: "button" }, `Delete ${s.name}`);
    const no = h("button", { class: "btn btn-ghost", type: "button" }, "Cancel");
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        await api.deleteSecret(s.name);
        announce(`Secret ${s.name} deleted`);
        await reload();
      } catch (err) {
        fill(cell, errorState(err));
      }
    });
    no.addEventListener("click", () => {
      start();
      cell.querySelector("button")?.focus();
    });
    fill(cell, h("span", { class: "small", role: "group", "aria-label": `Delete ${s.name}?` }, yes, " ", no));
    yes.focus();
  };
  const start = () =>
    fill(
      cell,
      h("button", { class: "btn btn-ghost", type: "button", onclick: ask, "aria-label": `Delete ${s.name}` }, "Delete"),
    );
  start();
  return cell;
}

function secretsTable(items: SecretView[], api: Api, reload: Reload, announce: (m: string) => void): HTMLElement {
  return scrollBox(
    "Secrets",
    h(
      "table",
      { class: "table", "data-testid": "secrets" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          // A visible header: an .sr-only span (absolutely positioned) would escape the scroll box.
          ["Name", "Created", "Updated", "Last used", "Actions"].map((t) => h("th", { scope: "col" }, t)),
        ),
      ),
      h(
        "tbody",
        {},
        items.map((s) =>
          h(
            "tr",
            { "data-key": s.name, "data-secret": s.name },
            h("td", { class: "mono" }, s.name),
            h("td", { class: "muted" }, formatTime(s.createdAt)),
            h("td", { class: "muted" }, formatTime(s.updatedAt)),
            h("td", { class: "muted" }, s.lastUsedAt ? formatTime(s.lastUsedAt) : "never"),
            deleteCell(s, api, reload, announce),
          ),
        ),
      ),
    ),
  );
}

function setForm(api: Api, reload: Reload, announce: (m: string) => void): HTMLElement {
  const name = h("input", {
    id: "secret-name",
    name: "name",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    pattern: "[a-z0-9][a-z0-9._\\-]{0,63}",
    "aria-describedby": "secret-name-help",
  });
  // A password field: not echoed on screen, not offered to autofill, cleared after each try.
  const value = h("input", {
    id: "secret-value",
    name: "value",
    type: "password",
    required: true,
    autocomplete: "new-password",
  });
  const status = h("div");
  const submit = h("button", { class: "btn btn-primary", type: "submit" }, "Save secret");
  const onsubmit = async (ev: Event) => {
    ev.preventDefault();
    const n = name.value.trim();
    await submitting(submit, status, async () => {
      await api.putSecret(n, value.value);
      announce(`Secret ${n} saved`);
      name.value = "";
      await reload();
    });
    value.value = ""; // after every try, failed or not
  };
  return h(
    "form",
    { class: "form", onsubmit, "data-testid": "secret-form" },
    h("label", { for: "secret-name" }, "Name"),
    name,
    h(
      "p",
      { class: "help", id: "secret-name-help" },
      "Lowercase letters, digits, '.', '_' or '-'; an existing name is replaced.",
    ),
    h("label", { for: "secret-value" }, "Value"),
    value,
    h("p", { class: "help" }, "Write-only: it is encrypted at rest and never shown again."),
    status,
    h("div", { class: "form-actions" }, submit),
  );
}

export const renderSecrets: View = ({ api, main, announce }) => {
  let disposed = false;
  const listBody = h("div", { class: "panel-body" }, h("div", { class: "loading" }, "Loading secrets…"));
  const reload = async (): Promise<void> => {
    try {
      const { items } = await api.secrets();
      if (disposed) return;
      patch(
        listBody,
        items.length
          ? secretsTable(items, api, reload, announce)
          : emptyState("No secrets yet.", 'Delivery steps reference one as { "$secret": "name" }.'),
      );
    } catch (err) {
      if (!disposed) fill(listBody, errorState(err));
    }
  };
  const section = (title: string, body: HTMLElement, cls = "panel") =>
    h("section", { class: cls }, h("div", { class: "panel-head" }, h("h2", {}, title)), body);
  fill(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Secrets")),
    section("Stored secrets", listBody),
    section("Set a secret", h("div", { class: "panel-body" }, setForm(api, reload, announce)), "panel panel-narrow"),
  );
  void reload();
  return () => {
    disposed = true;
  };
};
