/**
 * A tiny element builder. Text always goes in as text nodes, never as HTML, so names and data
 * from the API cannot inject markup (and the strict CSP forbids inline script anyway).
 */
import type { RunStatus, StepStatus } from "../../schema/vocabulary";
import { ApiError } from "./api";

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((ev: Event) => void)>;

/** Elements given a listener by h(): patch() keeps one only while its attributes are unchanged. */
const listening = new WeakSet<Element>();

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
      listening.add(el);
    } else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el: Node, children: (Child | Child[])[]): void {
  for (const n of toNodes(children)) el.appendChild(n);
}

/** Replaces an element's content. */
export function fill(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

function toNodes(children: (Child | Child[])[]): Node[] {
  const out: Node[] = [];
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    out.push(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return out;
}

const sameAttributes = (a: Element, b: Element): boolean =>
  a.attributes.length === b.attributes.length &&
  [...a.attributes].every((attr) => b.getAttribute(attr.name) === attr.value);

/**
 * Whether `cur` can stay in place of `next`: same tag and key; an element with a listener only
 * when its attributes are unchanged too (its listener was made for what they say).
 */
function reusable(cur: Node, next: Node): boolean {
  if (cur.nodeType !== next.nodeType) return false;
  if (!(cur instanceof Element) || !(next instanceof Element)) return true;
  if (cur.tagName !== next.tagName || cur.getAttribute("data-key") !== next.getAttribute("data-key")) return false;
  return !(listening.has(cur) || listening.has(next)) || sameAttributes(cur, next);
}

/** Makes `cur` look like `next` without replacing it: attributes, text, then children. */
function morph(cur: Node, next: Node): void {
  if (!(cur instanceof Element) || !(next instanceof Element)) {
    if (cur.nodeValue !== next.nodeValue) cur.nodeValue = next.nodeValue;
    return;
  }
  for (const attr of [...cur.attributes]) if (!next.hasAttribute(attr.name)) cur.removeAttribute(attr.name);
  for (const attr of [...next.attributes])
    if (cur.getAttribute(attr.name) !== attr.value) cur.setAttribute(attr.name, attr.value);
  // A chart's canvas belongs to its chart; a `data-own` element's content to whoever filled it
  // (a status line showing the last action's error).
  if (cur instanceof HTMLCanvasElement || cur.hasAttribute("data-own")) return;
  patchNodes(cur, [...next.childNodes]);
}

function patchNodes(parent: Element, fresh: Node[]): void {
  const keys = new Set(fresh.map((n) => (n instanceof Element ? n.getAttribute("data-key") : null)));
  // Keyed children that are gone leave first, so those after them are not mistaken for new.
  for (const c of [...parent.children])
    if (c.hasAttribute("data-key") && !keys.has(c.getAttribute("data-key"))) c.remove();
  fresh.forEach((next, i) => {
    const cur = parent.childNodes[i];
    if (cur && reusable(cur, next)) morph(cur, next);
    else if (cur && next instanceof Element && next.hasAttribute("data-key")) parent.insertBefore(next, cur);
    else if (cur) parent.replaceChild(next, cur);
    else parent.appendChild(next);
  });
  while (parent.childNodes.length > fresh.length) parent.lastChild?.remove();
}

/**
 * Replaces an element's content as fill() does, but keeps every node that can stay: a live
 * redraw then changes only what changed, and a field being typed in (its value, focus and
 * selection), an open menu or a text selection elsewhere survives it. Children with a `data-key`
 * are matched by it, so a card keeps its place when one before it goes.
 */
export function patch(el: Element, ...children: (Child | Child[])[]): void {
  patchNodes(el, toNodes(children));
}

/**
 * A table that scrolls sideways inside its own panel on a narrow screen instead of widening the
 * page (WCAG 1.4.10); focusable and named so a keyboard can scroll it (2.1.1).
 */
export function scrollBox(label: string, content: HTMLElement, cls = ""): HTMLDivElement {
  return h("div", { class: `scroll-x ${cls}`.trim(), tabindex: 0, role: "region", "aria-label": label }, content);
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

/**
 * A form's submission: its button disabled while `work` runs, its status cleared first and
 * showing the error if `work` fails (the API's problem+json, as errorState reads it).
 */
export async function submitting(submit: HTMLButtonElement, status: Element, work: () => Promise<void>): Promise<void> {
  fill(status);
  submit.disabled = true;
  try {
    await work();
  } catch (err) {
    fill(status, errorState(err));
  } finally {
    submit.disabled = false;
  }
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
