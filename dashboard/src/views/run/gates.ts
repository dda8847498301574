/**
 * Steps waiting for a person or a signal: an approval gate's card has its title, a comment and
 * Approve / Reject. Cards are keyed by step and patched, so a comment being typed survives every
 * live redraw; only a decided gate's card leaves.
 */
import type { RunView, WireEvent } from "../../../../schema/api";
import { errorState, fill, h, patch, pill } from "../../dom";
import { NONE, elapsedMs, formatDuration, formatTime } from "../../format";
import type { RunContext, RunPanel } from "./panel";

type Step = RunView["steps"][number];

const askedOf = (events: readonly WireEvent[], s: Step) =>
  events.findLast((e) => e.type === "step.waiting" && e.stepId === s.id)?.data ?? {};

function signalCard(r: RunView, s: Step, asked: Record<string, unknown>, since: string): HTMLElement {
  return h(
    "section",
    { class: "panel gate", "data-gate": s.id, "data-key": s.id, "aria-label": `Step ${s.id} waits for a signal` },
    h(
      "div",
      { class: "gate-head" },
      pill("waiting"),
      h("strong", {}, `${s.id} waits for signal '${String(asked.name ?? "?")}'`),
    ),
    h(
      "p",
      { class: "muted small" },
      `POST /v1/runs/${r.id}/signals/${String(asked.name ?? "<name>")} · waiting ${since}`,
    ),
  );
}

function approvalCard(ctx: RunContext, s: Step, asked: Record<string, unknown>, since: string): HTMLElement {
  const comment = h("input", {
    type: "text",
    class: "gate-comment",
    placeholder: "comment (optional)",
    "aria-label": `Comment on ${s.id}`,
    maxlength: 2000,
  });
  const status = h("div", { class: "gate-status", "data-own": "" });
  const decide = async (decision: "approve" | "reject", btn: HTMLButtonElement) => {
    btn.disabled = true;
    try {
      await ctx.api.decide(ctx.runId, s.id, decision, comment.value.trim());
      ctx.announce(`${decision === "approve" ? "Approved" : "Rejected"}: ${String(asked.title ?? s.id)}`);
      // The card leaves with its buttons: focus goes to the page's heading, not to <body>.
      ctx.focusHeading();
      await ctx.refresh();
    } catch (err) {
      fill(status, errorState(err));
    } finally {
      btn.disabled = false;
    }
  };
  const button = (decision: "approve" | "reject") =>
    h(
      "button",
      {
        class: decision === "approve" ? "btn btn-primary" : "btn btn-danger",
        type: "button",
        "data-decision": decision,
        onclick: (ev: Event) => void decide(decision, ev.currentTarget as HTMLButtonElement),
      },
      decision === "approve" ? "Approve" : "Reject",
    );
  const expires =
    typeof asked.expiresAt === "string"
      ? ` · on timeout (${formatTime(asked.expiresAt)}): ${String(asked.onTimeout)}`
      : "";
  return h(
    "section",
    {
      class: "panel gate",
      "data-gate": s.id,
      "data-key": s.id,
      "aria-label": `Approval: ${String(asked.title ?? s.id)}`,
    },
    h(
      "div",
      { class: "gate-head" },
      pill("waiting"),
      h("strong", { class: "gate-title" }, String(asked.title ?? s.id)),
    ),
    typeof asked.description === "string" ? h("p", { class: "gate-description" }, asked.description) : null,
    h("p", { class: "muted small" }, `step ${s.id} · waiting ${since}`, expires),
    h("div", { class: "gate-actions" }, comment, button("approve"), button("reject")),
    status,
  );
}

export function gatesPanel(ctx: RunContext): RunPanel {
  const el = h("div", { class: "gates", "data-testid": "gates" });
  return {
    el,
    update(r) {
      const now = new Date().toISOString();
      patch(
        el,
        r.steps
          .filter((s) => s.status === "waiting")
          .map((s) => {
            const asked = askedOf(ctx.events, s);
            const since = s.startedAt ? formatDuration(elapsedMs(s.startedAt, now)) : NONE;
            return s.type === "signal" ? signalCard(r, s, asked, since) : approvalCard(ctx, s, asked, since);
          }),
      );
    },
  };
}
