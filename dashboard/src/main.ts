/**
 * The dashboard's entry: the shell (header, navigation, sign out) and a router over the URL
 * fragment (#/runs, #/runs/<id>, #/approvals, #/new, #/usage, #/projects/<p>/artifacts/<name>), so
 * every page is one static index.html.
 */
import { Api } from "./api";
import { h, fill } from "./dom";
import { tenantOfKey } from "./format";
import { session } from "./session";
import { renderSignIn } from "./views/signin";
import { renderRuns } from "./views/runs";
import { renderRun } from "./views/run";
import { renderNewRun } from "./views/new-run";
import { renderInsights } from "./views/insights";
import { renderVersions } from "./views/versions";
import { renderApprovals } from "./views/approvals";
import type { View } from "./views/view";

const app = appRoot();
let dispose: (() => void) | null = null;

const ROUTES: { pattern: RegExp; nav: string; view: View }[] = [
  { pattern: /^#\/runs\/(run_[0-9a-z]+)$/, nav: "runs", view: renderRun },
  { pattern: /^#\/runs$/, nav: "runs", view: renderRuns },
  { pattern: /^#\/new$/, nav: "new", view: renderNewRun },
  { pattern: /^#\/usage$/, nav: "usage", view: renderInsights },
  { pattern: /^#\/projects\/([^/]+)\/artifacts\/([^/]+)$/, nav: "runs", view: renderVersions },
  { pattern: /^#\/approvals$/, nav: "approvals", view: renderApprovals },
];

function appRoot(): HTMLElement {
  const el = document.getElementById("app");
  if (!el) throw new Error("the page has no #app element to render into");
  return el;
}

/** The route `hash` names and the parameters its pattern captured, or null for none. */
function matchRoute(hash: string): { r: (typeof ROUTES)[number]; params: string[] } | null {
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

function route(): void {
  dispose?.();
  dispose = null;
  const key = session.key();
  if (!key) {
    document.title = "Sign in · Factory Runtime";
    fill(
      app,
      renderSignIn((k) => {
        session.signIn(k);
        // A deep link opened while signed out (#/runs/<id>) is where the user was going.
        go(ROUTES.some((r) => r.pattern.test(location.hash)) ? location.hash : "#/runs");
      }),
    );
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
  const link = (href: string, id: string, label: string) =>
    h(
      "a",
      {
        href,
        class: match.r.nav === id ? "nav-link active" : "nav-link",
        "aria-current": match.r.nav === id ? "page" : undefined,
      },
      label,
    );
  fill(
    app,
    h(
      "header",
      { class: "topbar" },
      h(
        "a",
        { class: "brand", href: "#/runs" },
        h("span", { class: "brand-mark", "aria-hidden": "true" }, "F"),
        "Factory Runtime",
      ),
      h(
        "nav",
        { class: "nav", "aria-label": "Main" },
        link("#/runs", "runs", "Runs"),
        link("#/approvals", "approvals", "Approvals"),
        link("#/usage", "usage", "Usage & SLA"),
        link("#/new", "new", "New run"),
      ),
      h(
        "div",
        { class: "account" },
        h("span", { class: "tenant", title: "tenant" }, tenantOfKey(key) ?? "signed in"),
        h("button", { class: "btn btn-ghost", type: "button", onclick: signOut }, "Sign out"),
      ),
    ),
    main,
  );
  dispose = match.r.view({ api, main, navigate: (hash) => (location.hash = hash) }, match.params);
}

window.addEventListener("hashchange", route);
route();
