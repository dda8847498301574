/**
 * The dashboard's entry: the shell (header, navigation, theme, sign out) and a router over the URL
 * fragment (#/runs, #/runs/<id>, #/approvals, #/new, #/usage, #/projects/<p>/artifacts/<name>), so
 * every page is one static index.html. Each page gets its own title, focus on its heading and an
 * announcement (a11y.ts).
 */
import { announce, focusHeading, setTitle } from "./a11y";
import { Api } from "./api";
import { restyleCharts } from "./charts";
import { fill, h } from "./dom";
import { tenantOfKey } from "./format";
import { session } from "./session";
import { installShortcuts } from "./shortcuts";
import { currentTheme, initTheme, onThemeChange, setTheme } from "./theme";
import { renderApprovals } from "./views/approvals";
import { renderAudit } from "./views/audit";
import { renderInsights } from "./views/insights";
import { renderNewRun } from "./views/new-run";
import { renderRun } from "./views/run";
import { renderRuns } from "./views/runs";
import { renderSecrets } from "./views/secrets";
import { renderSchedule, renderSchedules } from "./views/schedules";
import { renderTriggers } from "./views/triggers";
import { renderSignIn } from "./views/signin";
import { renderVersions } from "./views/versions";
import { renderWorkers } from "./views/workers";
import type { View } from "./views/view";

const app = appRoot();
let dispose: (() => void) | null = null;

type Route = { pattern: RegExp; nav: string; title: (params: string[]) => string; view: View };
const ROUTES: Route[] = [
  { pattern: /^#\/runs\/(run_[0-9a-z]+)$/, nav: "runs", title: ([id]) => `Run ${id?.slice(0, 10)}…`, view: renderRun },
  { pattern: /^#\/runs(?:\?.*)?$/, nav: "runs", title: () => "Runs", view: renderRuns },
  { pattern: /^#\/new$/, nav: "new", title: () => "New run", view: renderNewRun },
  { pattern: /^#\/usage$/, nav: "usage", title: () => "Usage & SLA", view: renderInsights },
  {
    pattern: /^#\/projects\/([^/]+)\/artifacts\/([^/]+)$/,
    nav: "runs",
    title: ([p, n]) => `${decodeURIComponent(n ?? "")} · ${decodeURIComponent(p ?? "")}`,
    view: renderVersions,
  },
  { pattern: /^#\/approvals$/, nav: "approvals", title: () => "Approvals", view: renderApprovals },
  { pattern: /^#\/secrets$/, nav: "secrets", title: () => "Secrets", view: renderSecrets },
  { pattern: /^#\/schedules$/, nav: "schedules", title: () => "Schedules", view: renderSchedules },
  {
    pattern: /^#\/schedules\/(sch_[0-9a-z]+)$/,
    nav: "schedules",
    title: ([id]) => `Schedule ${id}`,
    view: renderSchedule,
  },
  { pattern: /^#\/triggers$/, nav: "triggers", title: () => "Triggers", view: renderTriggers },
  { pattern: /^#\/audit$/, nav: "audit", title: () => "Audit", view: renderAudit },
  { pattern: /^#\/workers$/, nav: "workers", title: () => "Workers", view: renderWorkers },
];
const NAV: [href: string, id: string, label: string][] = [
  ["#/runs", "runs", "Runs"],
  ["#/approvals", "approvals", "Approvals"],
  ["#/schedules", "schedules", "Schedules"],
  ["#/triggers", "triggers", "Triggers"],
  ["#/usage", "usage", "Usage & SLA"],
  ["#/secrets", "secrets", "Secrets"],
  ["#/audit", "audit", "Audit"],
  ["#/workers", "workers", "Workers"],
  ["#/new", "new", "New run"],
];

function appRoot(): HTMLElement {
  const el = document.getElementById("app");
  if (!el) throw new Error("the page has no #app element to render into");
  return el;
}

/** The route `hash` names and the parameters its pattern captured, or null for none. */
function matchRoute(hash: string): { r: Route; params: string[] } | null {
  for (const r of ROUTES) {
    const m = r.pattern.exec(hash);
    if (m) return { r, params: m.slice(1) };
  }
  return null;
}

/** Shows `hash`: a change of fragment routes by itself (hashchange); the same one re-renders. */
function go(hash: string): void {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function signOut(): void {
  session.signOut();
  go("");
}

function themeToggle(): HTMLButtonElement {
  const button = h("button", { class: "btn btn-ghost", type: "button", "data-testid": "theme" }, "Dark theme");
  const show = () => button.setAttribute("aria-pressed", String(currentTheme() === "dark"));
  button.addEventListener("click", () => {
    setTheme(currentTheme() === "dark" ? "light" : "dark");
    show();
  });
  show();
  return button;
}

function topbar(nav: string, key: string): HTMLElement {
  const link = ([href, id, label]: (typeof NAV)[number]) =>
    h(
      "a",
      { href, class: nav === id ? "nav-link active" : "nav-link", "aria-current": nav === id ? "page" : undefined },
      label,
    );
  return h(
    "header",
    { class: "topbar" },
    h(
      "a",
      { class: "brand", href: "#/runs" },
      h("span", { class: "brand-mark", "aria-hidden": "true" }, "F"),
      "Factory Runtime",
    ),
    h("nav", { class: "nav", "aria-label": "Main" }, NAV.map(link)),
    h(
      "div",
      { class: "account" },
      h("span", { class: "tenant", title: "tenant" }, tenantOfKey(key) ?? "signed in"),
      themeToggle(),
      h(
        "button",
        { class: "btn btn-ghost", type: "button", "aria-keyshortcuts": "?", onclick: () => shortcuts.showHelp() },
        "Shortcuts",
      ),
      h("button", { class: "btn btn-ghost", type: "button", onclick: signOut }, "Sign out"),
    ),
  );
}

function showSignIn(): void {
  setTitle("Sign in");
  fill(
    app,
    renderSignIn((k) => {
      session.signIn(k);
      // A deep link opened while signed out (#/runs/<id>) is where the user was going.
      go(ROUTES.some((r) => r.pattern.test(location.hash)) ? location.hash : "#/runs");
    }),
  );
}

function route(): void {
  dispose?.();
  dispose = null;
  const key = session.key();
  if (!key) {
    showSignIn();
    return;
  }
  const match = matchRoute(location.hash);
  if (!match) {
    location.replace("#/runs");
    return;
  }
  const api = new Api(key);
  api.onUnauthorized = signOut;
  const main = h("main", { class: "main", id: "main" });
  fill(app, topbar(match.r.nav, key), main);
  const title = match.r.title(match.params);
  setTitle(title);
  const ctx = { api, main, navigate: (hash: string) => (location.hash = hash), setTitle, announce };
  dispose = match.r.view(ctx, match.params);
  focusHeading(main);
  announce(`${title} page`);
}

initTheme();
onThemeChange(restyleCharts);
const shortcuts = installShortcuts(go, () => session.key() !== null);
window.addEventListener("hashchange", route);
route();
