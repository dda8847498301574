/** The run's heading: its id, status, the live badge and the controls (pause, resume, cancel, retry). */
import type { RunView } from "../../../../schema/api";
import { TERMINAL_RUN_STATUSES } from "../../../../schema/vocabulary";
import { errorState, fill, h, patch, pill } from "../../dom";
import type { RunContext, RunPanel } from "./panel";

type Control = "cancel" | "pause" | "resume" | "retry";

const LABELS: Record<Control, string> = { pause: "Pause", resume: "Resume", cancel: "Cancel", retry: "Retry" };
const CLASSES: Record<Control, string> = {
  pause: "btn",
  resume: "btn",
  cancel: "btn btn-danger",
  retry: "btn btn-primary",
};

/** The controls this run offers now. */
function controls(r: RunView): Control[] {
  const active = !TERMINAL_RUN_STATUSES.has(r.status);
  const out: Control[] = [];
  if (active && r.status !== "paused") out.push("pause");
  if (r.status === "paused") out.push("resume");
  if (active) out.push("cancel");
  if ((r.status === "failed" || r.status === "cancelled") && !r.retriedAs && !r.archivedAt) out.push("retry");
  return out;
}

/** What a queued run waits for: its debounce, a slot of one of its concurrency keys (named), or one of the tenant's. */
function queuedNote(r: RunView): HTMLElement {
  if (r.waiting?.reason === "debounce")
    return h(
      "span",
      { class: "muted small", "data-testid": "run-waiting" },
      "debounced on key ",
      h("code", {}, r.waiting.key),
      ` until ${r.waiting.until ?? "its period ends"} (a later run of the key pushes it)`,
    );
  return r.waiting
    ? h(
        "span",
        { class: "muted small", "data-testid": "run-waiting" },
        "waiting for a slot of concurrency key ",
        h("code", {}, r.waiting.key),
      )
    : h("span", { class: "muted small" }, "waiting for one of the tenant's concurrency slots");
}

export function headerPanel(ctx: RunContext): RunPanel {
  const title = h("h1", { class: "mono" }, ctx.runId);
  const facts = h("div", { class: "run-facts" });
  const problem = h("div", { class: "action-problem" });
  const liveBadge = h(
    "span",
    { class: "live", "data-testid": "live", hidden: true, title: "following the run's events as they happen" },
    h("span", { class: "live-dot", "aria-hidden": "true" }),
    "live",
  );
  // Buttons made once and put on the page or taken off: one still offered stays where it is.
  const buttons = new Map<Control, HTMLButtonElement>();
  for (const name of Object.keys(LABELS) as Control[]) {
    const onclick = (ev: Event) => void act(name, ev.currentTarget as HTMLButtonElement);
    const attrs = { class: CLASSES[name], type: "button", "data-action": name, "data-key": name, onclick };
    buttons.set(name, h("button", attrs, LABELS[name]));
  }
  const actions = h("div", { class: "actions" });
  async function act(name: Control, btn: HTMLButtonElement): Promise<void> {
    btn.disabled = true;
    fill(problem);
    try {
      const next = await ctx.api.control(ctx.runId, name);
      ctx.announce(`Run ${name === "retry" ? "retried" : `${LABELS[name].toLowerCase()} requested`}`);
      if (name === "retry") ctx.navigate(`#/runs/${next.id}`);
      else await ctx.refresh();
    } catch (err) {
      fill(problem, errorState(err));
    } finally {
      btn.disabled = false;
    }
  }
  const el = h(
    "div",
    { class: "page-head-wrap" },
    h("div", { class: "page-head" }, title, facts, liveBadge, actions),
    problem,
  );
  let shown: string | null = null;
  return {
    el,
    update(r) {
      // The run's end is news to someone who is not looking at the pill: say it once.
      if (shown !== null && shown !== r.status && TERMINAL_RUN_STATUSES.has(r.status)) ctx.announce(`Run ${r.status}`);
      shown = r.status;
      patch(
        facts,
        h("span", { "data-testid": "run-status" }, pill(r.status)),
        // Archived: read from its archive in R2, so it can be read and deleted but no longer changed.
        r.archivedAt
          ? h("span", { "data-testid": "run-archived", title: "read from its archive" }, pill("archived"))
          : null,
        r.status === "queued" ? queuedNote(r) : null,
        // The deployment's trace viewer (TRACE_URL_TEMPLATE): the run's spans, once it finished.
        r.traceUrl
          ? h("a", { href: r.traceUrl, target: "_blank", rel: "noopener", "data-testid": "run-trace" }, "Trace")
          : null,
      );
      patch(
        actions,
        controls(r).map((name) => buttons.get(name)),
      );
    },
    live(following) {
      liveBadge.hidden = !following;
    },
  };
}
