/**
 * A tiny element builder. Text always goes in as text nodes, never as HTML, so names and data
 * from the API cannot inject markup (and the strict CSP forbids inline script anyway).
 */
import type { RunStatus, StepStatus } from "../../schema/vocabulary";
import { ApiError } from "./api";

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((ev: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.slice(2).toLowerCase(), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el: Node, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces an element's content. */
export function fill(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A status pill in the closed vocabulary's colours (styles.css: .pill-<status>). */
export function pill(status: RunStatus | StepStatus | string): HTMLSpanElement {
  return h("span", { class: `pill pill-${status}`, "data-status": status }, status);
}

export function emptyState(title: string, hint?: Child): HTMLDivElement {
  return h(
    "div",
    { class: "empty" },
    h("p", { class: "empty-title" }, title),
    hint ? h("p", { class: "empty-hint" }, hint) : null,
  );
}

/** An error as the API described it: problem+json title, then detail. */
export function errorState(err: unknown): HTMLDivElement {
  const title = err instanceof ApiError ? err.title : "Something went wrong";
  const detail = err instanceof ApiError ? err.detail : err instanceof Error ? err.message : String(err);
  const fields = err instanceof ApiError ? err.errors : [];
  return h(
    "div",
    { class: "error", role: "alert" },
    h("p", { class: "error-title" }, title),
    detail ? h("p", { class: "error-detail" }, detail) : null,
    fields.length > 0
      ? h(
          "ul",
          { class: "error-fields" },
          fields.map((f) => h("li", {}, f.path ? h("code", {}, f.path) : null, f.path ? `: ${f.message}` : f.message)),
        )
      : null,
  );
}

/** A labelled figure; `value` keeps the raw number for whoever reads the page (tests, people). */
export function kpi(label: string, text: string, testid: string, value?: number | null, hint?: string): HTMLDivElement {
  return h(
    "div",
    { class: "kpi" },
    h("div", { class: "kpi-label" }, label),
    h(
      "div",
      {
        class: "kpi-value",
        "data-testid": testid,
        "data-value": value === undefined || value === null ? undefined : String(value),
      },
      text,
    ),
    hint ? h("div", { class: "kpi-hint" }, hint) : null,
  );
}
