/**
 * One run: its panels (run/*.ts) in page order. The page reads the event log, then the run, and
 * while the run is active follows its event stream: each event is appended to the log and, in
 * batches, the run is read again and every panel patches what changed. Nothing is re-rendered
 * whole, so a comment being typed, a focused button or a selection stays where it is.
 */
import type { RunView, WireEvent } from "../../../schema/api";
import { TERMINAL_RUN_STATUSES } from "../../../schema/vocabulary";
import { focusHeading } from "../a11y";
import { ApiError } from "../api";
import { emptyState, errorState, fill, h } from "../dom";
import { artifactsPanel } from "./run/artifacts";
import { deliveryPanel } from "./run/delivery";
import { eventsPanel } from "./run/events";
import { gatesPanel } from "./run/gates";
import { graphPanel } from "./run/graph";
import { headerPanel } from "./run/header";
import type { RunContext, RunPanel, RunPanelFactory } from "./run/panel";
import { stepKeysPanel } from "./run/step-keys";
import { summaryPanel } from "./run/summary";
import { timelinePanel } from "./run/timeline";
import { usagePanel } from "./run/usage";
import type { View, ViewContext } from "./view";

/** The run page's panels, top to bottom. A new panel: one file in run/ and one line here. */
const PANELS: RunPanelFactory[] = [
  headerPanel,
  gatesPanel,
  stepKeysPanel,
  summaryPanel,
  deliveryPanel,
  usagePanel,
  graphPanel,
  timelinePanel,
  artifactsPanel,
  eventsPanel,
];

/** Redraws are batched: a burst of events (a fan-out of steps) costs one read of the run. */
const REDRAW_MS = 250;

const problemOf = (err: unknown) =>
  err instanceof ApiError && err.status === 404
    ? emptyState("No such run.", h("a", { href: "#/runs" }, "Back to the runs"))
    : errorState(err);

export const renderRun: View = (view, [id]) => {
  if (id === undefined) throw new Error("the run view is routed without a run id");
  const abort = new AbortController();
  const events: WireEvent[] = [];
  const notice = h("div", { class: "run-notice" });
  let run: RunView | null = null;
  let latest = 0;

  const ctx: RunContext = {
    api: view.api,
    runId: id,
    navigate: view.navigate,
    announce: view.announce,
    events,
    refresh: (opts) => refresh(opts?.artifacts ?? false),
    focusHeading: () => focusHeading(view.main),
  };
  const panels: RunPanel[] = PANELS.map((make) => make(ctx));
  fill(
    view.main,
    h("a", { class: "back", href: "#/runs" }, "← Runs"),
    panels[0]?.el,
    notice,
    panels.slice(1).map((p) => p.el),
  );

  async function refresh(artifacts: boolean): Promise<void> {
    // Refreshes can overlap (a batched redraw and the final one); only the newest may draw.
    const mine = ++latest;
    let fresh: RunView;
    try {
      fresh = await view.api.getRun(id as string);
    } catch (err) {
      if (!abort.signal.aborted) fill(notice, problemOf(err));
      return;
    }
    if (abort.signal.aborted || mine !== latest) return;
    const first = run === null;
    run = fresh;
    if (first) view.setTitle(`Run ${fresh.id.slice(0, 10)}…`, fresh.project);
    await Promise.all(panels.map((p) => p.update?.(fresh, { artifacts: artifacts || first })));
  }

  const append = (batch: WireEvent[]) => {
    events.push(...batch);
    for (const p of panels) p.events?.(batch);
  };

  void follow(view, ctx, { abort, append, refresh, notice, panels, current: () => run });
  return () => {
    abort.abort();
    for (const p of panels) p.dispose?.();
  };
};

interface Follower {
  abort: AbortController;
  append(batch: WireEvent[]): void;
  refresh(artifacts: boolean): Promise<void>;
  notice: HTMLElement;
  panels: RunPanel[];
  current(): RunView | null;
}

/** Reads the log and the run, then follows the live stream until the run ends or the page goes. */
async function follow(view: ViewContext, ctx: RunContext, f: Follower): Promise<void> {
  const { signal } = f.abort;
  let log: { items: WireEvent[]; finished: boolean };
  try {
    log = await view.api.eventLog(ctx.runId, signal);
  } catch (err) {
    if (!signal.aborted) fill(f.notice, problemOf(err));
    return;
  }
  f.append(log.items);
  await f.refresh(true);
  const run = f.current();
  if (log.finished || !run || TERMINAL_RUN_STATUSES.has(run.status)) return;
  const live = (on: boolean) => {
    for (const p of f.panels) p.live?.(on);
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let artifactsDirty = false;
  live(true);
  try {
    await view.api.followEvents(
      ctx.runId,
      ctx.events.at(-1)?.seq ?? 0,
      (e) => {
        f.append([e]);
        artifactsDirty ||= e.type === "artifact.created";
        clearTimeout(timer);
        timer = setTimeout(() => {
          const withArtifacts = artifactsDirty;
          artifactsDirty = false;
          void f.refresh(withArtifacts);
        }, REDRAW_MS);
      },
      signal,
    );
  } catch (err) {
    if (!signal.aborted) fill(f.notice, errorState(err));
  }
  clearTimeout(timer);
  live(false);
  if (!signal.aborted) await f.refresh(true);
}
