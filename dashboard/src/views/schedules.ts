/**
 * The Schedules pages: the tenant's schedules (#/schedules) and one schedule (#/schedules/<id>)
 * with its next fire times and its last fires linked to their runs. A person pauses, resumes,
 * fires now and (after a confirmation) deletes; every figure is the API's (GET /v1/schedules).
 */
import type { FireView, ScheduleSpec, ScheduleView } from "../../../schema/automation";
import { confirmAction } from "../confirm";
import { emptyState, errorState, fill, h, patch, scrollBox } from "../dom";
import { formatTime, NONE } from "../format";
import type { View, ViewContext } from "./view";

const REFRESH_MS = 3000;
const OUTCOME_COLOUR: Record<FireView["outcome"], string> = {
  started: "succeeded",
  skipped: "skipped",
  refused: "failed",
  missed: "cancelled",
};

/** A spec as people read it. */
export function describeSpec(spec: ScheduleSpec): string {
  if ("cron" in spec) return `cron ${spec.cron} (${spec.timezone})`;
  if ("every" in spec) return `every ${spec.every}`;
  return `once at ${formatTime(spec.at)}`;
}

const label = (s: ScheduleView) => s.name ?? s.id;
const state = (s: ScheduleView) =>
  h(
    "span",
    { class: `pill pill-${s.paused ? "paused" : "running"}`, "data-status": s.paused ? "paused" : "active" },
    s.paused ? "paused" : "active",
  );

/** Pause/resume and fire-now buttons; each acts, says what it did, then redraws the page. */
function controls(ctx: ViewContext, s: ScheduleView, status: HTMLElement, reload: () => void): HTMLElement[] {
  const act = async (button: HTMLButtonElement, what: () => Promise<string>) => {
    button.disabled = true;
    try {
      const said = await what();
      fill(status, said);
      ctx.announce(said);
    } catch (err) {
      fill(status, errorState(err));
    } finally {
      button.disabled = false;
      reload();
    }
  };
  const pause = h(
    "button",
    {
      class: "btn btn-small",
      type: "button",
      "data-action": s.paused ? "resume" : "pause",
      "aria-label": `${s.paused ? "Resume" : "Pause"} ${label(s)}`,
      onclick: () =>
        act(pause, async () => {
          await ctx.api.pauseSchedule(s.id, !s.paused);
          return `${label(s)} ${s.paused ? "resumed" : "paused"}.`;
        }),
    },
    s.paused ? "Resume" : "Pause",
  );
  const fire = h(
    "button",
    {
      class: "btn btn-small btn-primary",
      type: "button",
      "data-action": "fire",
      "aria-label": `Fire now: ${label(s)}`,
      onclick: () =>
        act(fire, async () => {
          const fired = await ctx.api.fireSchedule(s.id);
          return `${label(s)} fired: run ${fired.runId} started.`;
        }),
    },
    "Fire now",
  );
  return [pause, fire];
}

function scheduleRow(ctx: ViewContext, s: ScheduleView, status: HTMLElement, reload: () => void): HTMLElement {
  return h(
    "tr",
    { "data-schedule": s.id, "data-key": `${s.id}/${s.paused}` },
    h("td", {}, h("a", { href: `#/schedules/${s.id}` }, label(s))),
    h("td", {}, s.project, s.blueprint ? h("span", { class: "muted" }, ` · ${s.blueprint}`) : null),
    h("td", {}, describeSpec(s.spec)),
    h("td", {}, state(s)),
    h("td", { class: "muted" }, formatTime(s.nextFireTimes[0] ?? null)),
    h("td", {}, h("div", { class: "gate-actions" }, controls(ctx, s, status, reload))),
  );
}

function scheduleTable(ctx: ViewContext, items: ScheduleView[], status: HTMLElement, reload: () => void): HTMLElement {
  const head = ["Schedule", "Project", "When", "State", "Next fire", "Actions"];
  return scrollBox(
    "Schedules",
    h(
      "table",
      { class: "table", "data-testid": "schedules" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          head.map((t) => h("th", { scope: "col" }, t)),
        ),
      ),
      h(
        "tbody",
        {},
        items.map((s) => scheduleRow(ctx, s, status, reload)),
      ),
    ),
  );
}

/** Redraws `body` every few seconds from `load` until disposed; returns the disposer and a redraw-now. */
export function refreshing(
  body: HTMLElement,
  load: () => Promise<(HTMLElement | string)[]>,
): { dispose: () => void; reload: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;
  const reload = async () => {
    clearTimeout(timer);
    try {
      const content = await load();
      if (!disposed) patch(body, ...content);
    } catch (err) {
      if (!disposed) fill(body, errorState(err));
    }
    if (!disposed) timer = setTimeout(() => void reload(), REFRESH_MS);
  };
  fill(body, h("div", { class: "loading" }, "Loading…"));
  void reload();
  return {
    dispose: () => {
      disposed = true;
      clearTimeout(timer);
    },
    reload: () => void reload(),
  };
}

export const renderSchedules: View = (ctx) => {
  const body = h("div", { class: "panel-body" });
  const status = h("div", { class: "muted small", "data-testid": "schedule-status", "data-own": true });
  fill(
    ctx.main,
    h("div", { class: "page-head" }, h("h1", {}, "Schedules")),
    status,
    h("section", { class: "panel" }, body),
  );
  const live = refreshing(body, async () => {
    const page = await ctx.api.schedules({ limit: 200 });
    ctx.setTitle(`Schedules (${page.items.length})`);
    return [
      page.items.length
        ? scheduleTable(ctx, page.items, status, () => live.reload())
        : emptyState("No schedules yet.", "Create one with POST /v1/schedules or `factory schedules create`."),
    ];
  });
  return live.dispose;
};

function fireRow(f: FireView): HTMLElement {
  return h(
    "tr",
    { "data-fire": f.fireTime, "data-key": `${f.fireTime}/${f.outcome}` },
    h("td", {}, formatTime(f.fireTime)),
    h(
      "td",
      {},
      // An outcome in the colours of the run statuses it is nearest to; its own word on the pill.
      h("span", { class: `pill pill-${OUTCOME_COLOUR[f.outcome]}`, "data-status": f.outcome }, f.outcome),
    ),
    h("td", {}, f.runId ? h("a", { href: `#/runs/${f.runId}`, class: "mono" }, f.runId) : NONE),
    h("td", { class: "muted" }, f.reason ?? ""),
  );
}

function deleteButton(ctx: ViewContext, s: ScheduleView, status: HTMLElement): HTMLElement {
  return h(
    "button",
    {
      class: "btn btn-small btn-danger",
      type: "button",
      "data-action": "delete",
      "aria-label": `Delete ${label(s)}`,
      onclick: async () => {
        if (!(await confirmAction(`Delete ${label(s)}?`, "It fires no more; the runs it started stay.", "Delete")))
          return;
        try {
          await ctx.api.deleteSchedule(s.id);
          ctx.announce(`${label(s)} deleted.`);
          ctx.navigate("#/schedules");
        } catch (err) {
          fill(status, errorState(err));
        }
      },
    },
    "Delete",
  );
}

const panel = (title: string, content: HTMLElement) =>
  h(
    "section",
    { class: "panel" },
    h("div", { class: "panel-head" }, h("h2", {}, title)),
    h("div", { class: "panel-body" }, content),
  );

/** The schedule's facts, next fire times and last fires (the page's heading and actions are apart). */
function detail(s: ScheduleView): HTMLElement[] {
  const fires = s.lastFires;
  const head = ["Fire time", "Outcome", "Run", "Why"];
  return [
    h(
      "p",
      { class: "muted" },
      `${s.project}${s.blueprint ? ` · ${s.blueprint}` : ""} · ${describeSpec(s.spec)} · overlap ${s.overlap} · catch-up ${s.catchUp}`,
    ),
    panel(
      "Next fires",
      s.nextFireTimes.length
        ? h(
            "ol",
            { "data-testid": "next-fires" },
            s.nextFireTimes.map((t) => h("li", { "data-time": t }, formatTime(t))),
          )
        : emptyState(s.paused ? "Paused: it fires only when fired by hand." : "No more fires."),
    ),
    panel(
      "Last fires",
      fires.length
        ? scrollBox(
            "Last fires",
            h(
              "table",
              { class: "table", "data-testid": "last-fires" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  head.map((t) => h("th", { scope: "col" }, t)),
                ),
              ),
              h("tbody", {}, fires.map(fireRow)),
            ),
          )
        : emptyState("It has not fired yet."),
    ),
  ];
}

export const renderSchedule: View = (ctx, [id = ""]) => {
  const status = h("div", { class: "muted small", "data-testid": "schedule-status", "data-own": true });
  const title = h("h1", {}, id);
  const badge = h("span", {});
  const actions = h("div", { class: "actions" });
  const body = h("div", {});
  fill(
    ctx.main,
    h("a", { class: "back", href: "#/schedules" }, "← Schedules"),
    h("div", { class: "page-head" }, title, badge, actions),
    status,
    body,
  );
  const live = refreshing(body, async () => {
    const s = await ctx.api.schedule(id);
    ctx.setTitle(`Schedule ${label(s)}`);
    patch(title, label(s));
    patch(badge, state(s));
    patch(
      actions,
      controls(ctx, s, status, () => live.reload()),
      deleteButton(ctx, s, status),
    );
    return detail(s);
  });
  return live.dispose;
};
