/**
 * Where each attempt's time went: queue wait, execution and retry backoff as a chart (updated in
 * place as events arrive), and the same per step as a table.
 */
import type { Chart } from "chart.js";
import { timelineChart, updateTimelineChart } from "../../charts";
import { emptyState, h, patch, scrollBox } from "../../dom";
import { NONE, formatDuration } from "../../format";
import { type StepTiming, deriveTimeline, stepTimings } from "../../timeline";
import { type RunContext, type RunPanel, section } from "./panel";

const HEAD = ["Step", "Attempts", "Queue wait", "Execution", "Retry backoff", "Waiting (gate)"];

function timingsTable(rows: StepTiming[]): HTMLElement {
  const num = (v: string | number) => h("td", { class: "num" }, v);
  return h(
    "table",
    { class: "table compact", "data-testid": "timings" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        HEAD.map((t, i) => h("th", { class: i === 0 ? undefined : "num", scope: "col" }, t)),
      ),
    ),
    h(
      "tbody",
      {},
      rows.map((t) =>
        h(
          "tr",
          { "data-step": t.stepId, "data-key": t.stepId },
          h("td", {}, t.stepId),
          num(t.attempts),
          num(formatDuration(t.queueWaitMs)),
          num(formatDuration(t.executionMs)),
          num(t.backoffMs > 0 ? formatDuration(t.backoffMs) : NONE),
          num(t.waitingMs > 0 ? formatDuration(t.waitingMs) : NONE),
        ),
      ),
    ),
  );
}

export function timelinePanel(ctx: RunContext): RunPanel {
  const body = h("div", { class: "panel-body" });
  const canvas = h("canvas", { role: "img", "aria-label": "Per-attempt timeline of the run's steps" });
  const box = h("div", { class: "chart chart-timeline" }, canvas);
  // A run with hundreds of attempts scrolls inside the panel rather than stretching the page.
  const chartBox = h("div", { class: "timeline-scroll" }, box);
  let chart: Chart<"bar", [number, number][], string> | null = null;
  const note = h(
    "span",
    { class: "muted small" },
    "queue wait, execution and retry backoff of each attempt; a gate's wait",
  );
  return {
    el: section("Timeline", body, note),
    update() {
      const timeline = deriveTimeline(ctx.events);
      if (timeline.spans.length === 0) {
        chart?.destroy();
        chart = null;
        patch(body, emptyState("No attempts yet.", "Each attempt shows here once its step is queued."));
        return;
      }
      box.style.height = `${Math.max(180, timeline.spans.length * 30 + 90)}px`;
      patch(body, chartBox, scrollBox("Time per step", timingsTable(stepTimings(timeline))));
      if (chart) updateTimelineChart(chart, timeline, Date.now());
      else chart = timelineChart(canvas, timeline, Date.now());
    },
    dispose() {
      chart?.destroy();
    },
  };
}
