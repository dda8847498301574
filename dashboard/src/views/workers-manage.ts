/**
 * What the Workers page lets a tenant change (issue 27's gap): create a pool, issue a worker token
 * (its secret shown this once, with a copy button), and revoke a token after a confirmation, all
 * through the dashboard's typed API client. The tokens panel is outside the page's 5 s refresh, so
 * a token just issued stays on screen until the user moves on.
 */
import type { TokenView } from "../../../schema/workers";
import type { Api } from "../api";
import { emptyState, errorState, fill, h, scrollBox, submitting } from "../dom";
import { formatTime } from "../format";

type Announce = (message: string) => void;

/** `gpu=a100, region=eu` → `{ gpu: "a100", region: "eu" }`; the API checks the names. */
function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of text.split(",")) {
    const [k, ...v] = part.split("=");
    if (k?.trim()) labels[k.trim()] = v.join("=").trim();
  }
  return labels;
}

/** The form that creates a pool; `created` is told its name (the page reloads, the tokens panel selects it). */
export function createPoolForm(api: Api, announce: Announce, created: (name: string) => Promise<void>): HTMLElement {
  const name = h("input", {
    id: "pool-name",
    name: "name",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    pattern: "[a-z][a-z0-9\\-]{0,39}",
    "aria-describedby": "pool-name-help",
  });
  const labels = h("input", { id: "pool-labels", name: "labels", autocomplete: "off", spellcheck: "false" });
  const status = h("div");
  const submit = h("button", { class: "btn btn-primary", type: "submit" }, "Create pool");
  const onsubmit = async (ev: Event) => {
    ev.preventDefault();
    const n = name.value.trim();
    await submitting(submit, status, async () => {
      await api.createPool({ name: n, labels: parseLabels(labels.value) });
      announce(`Pool ${n} created`);
      name.value = "";
      labels.value = "";
      await created(n);
    });
  };
  return h(
    "form",
    { class: "form", onsubmit, "data-testid": "pool-form" },
    h("label", { for: "pool-name" }, "Name"),
    name,
    h("p", { class: "help", id: "pool-name-help" }, "Lowercase letters, digits and '-', starting with a letter."),
    h("label", { for: "pool-labels" }, "Labels (optional)"),
    labels,
    h("p", { class: "help" }, "For example gpu=a100, region=eu."),
    status,
    h("div", { class: "form-actions" }, submit),
  );
}

/** A token's revoke: asks first, in place (the confirm button takes focus; Cancel puts it back). */
function revokeCell(pool: string, t: TokenView, api: Api, reload: () => Promise<void>, announce: Announce) {
  const cell = h("td", {});
  const start = (): void => {
    if (t.revokedAt) fill(cell, h("span", { class: "muted" }, `revoked ${formatTime(t.revokedAt)}`));
    else fill(cell, h("button", { class: "btn btn-ghost", type: "button", onclick: ask }, `Revoke ${t.id}`));
  };
  const ask = (): void => {
    const yes = h("button", { class: "btn btn-danger", type: "button" }, `Revoke ${t.id} now`);
    const no = h("button", { class: "btn btn-ghost", type: "button" }, "Cancel");
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        await api.revokePoolToken(pool, t.id);
        announce(`Token ${t.id} revoked: workers using it stop`);
        await reload();
      } catch (err) {
        fill(cell, errorState(err));
      }
    });
    no.addEventListener("click", () => {
      start();
      cell.querySelector("button")?.focus();
    });
    fill(cell, h("span", { class: "small", role: "group", "aria-label": `Revoke token ${t.id}?` }, yes, " ", no));
    yes.focus();
  };
  start();
  return cell;
}

function tokensTable(pool: string, items: TokenView[], api: Api, reload: () => Promise<void>, announce: Announce) {
  if (items.length === 0) return emptyState("No tokens for this pool yet.");
  return scrollBox(
    `Tokens of ${pool}`,
    h(
      "table",
      { class: "table", "data-testid": "pool-tokens" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Token", "Created", "State"].map((t) => h("th", { scope: "col" }, t)),
        ),
      ),
      h(
        "tbody",
        {},
        items.map((t) =>
          h(
            "tr",
            { "data-key": t.id, "data-token": t.id },
            h("td", { class: "mono" }, t.id),
            h("td", { class: "muted" }, formatTime(t.createdAt)),
            revokeCell(pool, t, api, reload, announce),
          ),
        ),
      ),
    ),
  );
}

/** The secret of a token just issued, with a copy button: it is never answered again. */
function issuedToken(token: string, announce: Announce): HTMLElement {
  const field = h("input", { id: "issued-token", class: "mono", readonly: true, value: token });
  const copy = h("button", { class: "btn btn-ghost", type: "button" }, "Copy token");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(token);
      announce("Token copied");
    } catch {
      field.select(); // no clipboard permission: selected, ready for Ctrl+C
      announce("Copy blocked by the browser: the token is selected");
    }
  });
  return h(
    "div",
    { "data-testid": "issued-token", role: "status" },
    h("label", { for: "issued-token" }, "New worker token (shown this once: copy it now)"),
    field,
    h("div", { class: "form-actions" }, copy),
  );
}

/**
 * The tokens panel: a pool picker, its tokens with revoke, and "Issue token". `setPools` keeps the
 * picker in step with the page's list of pools.
 */
export function tokensPanel(api: Api, announce: Announce) {
  const picker = h("select", { id: "token-pool", name: "pool" });
  const issued = h("div");
  const list = h("div");
  const issue = h("button", { class: "btn btn-primary", type: "button" }, "Issue token");
  const reload = async (): Promise<void> => {
    if (!picker.value) {
      fill(list, emptyState("Create a pool first."));
      return;
    }
    try {
      fill(list, tokensTable(picker.value, (await api.poolTokens(picker.value)).items, api, reload, announce));
    } catch (err) {
      fill(list, errorState(err));
    }
  };
  issue.addEventListener("click", async () => {
    if (!picker.value) return;
    issue.disabled = true;
    try {
      const made = await api.createPoolToken(picker.value);
      fill(issued, issuedToken(made.token, announce));
      await reload();
    } catch (err) {
      fill(issued, errorState(err));
    } finally {
      issue.disabled = false;
    }
  });
  picker.addEventListener("change", () => {
    fill(issued);
    void reload();
  });
  const setPools = (names: string[], select?: string): void => {
    const current = select ?? picker.value;
    const same = [...picker.options].map((o) => o.value).join() === names.join();
    if (!same)
      fill(
        picker,
        names.map((n) => h("option", { value: n }, n)),
      );
    if (names.includes(current)) picker.value = current;
    if (!same || select) void reload();
  };
  const element = h(
    "div",
    { class: "panel-body", "data-testid": "tokens-panel" },
    h("label", { for: "token-pool" }, "Pool"),
    picker,
    h("div", { class: "form-actions" }, issue),
    issued,
    list,
  );
  const names = (): string[] => [...picker.options].map((o) => o.value);
  return { element, setPools, names };
}
