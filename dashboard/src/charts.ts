/**
 * Charts, drawn by Chart.js (tree-shaken: only the bar chart's parts are registered). Every
 * chart is made through here so they share fonts, colours and the no-animation setting (the
 * dashboard redraws live; animating each redraw would only flicker). Colours are the stylesheet's
 * (--chart-* variables), read again when the theme changes, so both palettes keep their contrast.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
  type ChartDataset,
} from "chart.js";
import { formatDuration } from "./format";
import type { Timeline } from "./timeline";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
Chart.defaults.font.size = 12;
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

const SERIES = ["primary", "queue", "execution", "backoff", "failed", "waiting"] as const;
// Each dataset also carries its series name (`...{ series }`: Chart.js keeps keys it does not
// know, its typings do not admit them), so restyleCharts() can repaint it in a new theme.
type Series = (typeof SERIES)[number];

const cssVar = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** The series colours of the theme in force (styles.css: --chart-<series>). */
export function colors(): Record<Series, string> {
  return Object.fromEntries(SERIES.map((s) => [s, cssVar(`--chart-${s}`)])) as Record<Series, string>;
}

/** Text and grid colours from the theme; called at start and on each change of theme. */
function applyThemeDefaults(): void {
  Chart.defaults.color = cssVar("--chart-text");
  Chart.defaults.borderColor = cssVar("--chart-grid");
}
applyThemeDefaults();

/** Repaints every chart on the page in the theme now in force (each dataset carries its series name). */
export function restyleCharts(): void {
  applyThemeDefaults();
  const palette = colors();
  for (const chart of Object.values(Chart.instances)) {
    for (const ds of chart.data.datasets) {
      const series = (ds as { series?: Series }).series;
      if (series) ds.backgroundColor = palette[series];
    }
    for (const scale of Object.values(chart.options.scales ?? {})) {
      if (!scale) continue;
      scale.ticks = { ...scale.ticks, color: Chart.defaults.color as string };
      scale.grid = { ...scale.grid, color: Chart.defaults.borderColor as string };
      const title = (scale as { title?: { color?: unknown } }).title;
      if (title) title.color = Chart.defaults.color;
    }
    const legend = chart.options.plugins?.legend?.labels;
    if (legend) legend.color = Chart.defaults.color as string;
    chart.update();
  }
}

/** A vertical bar chart of one series over categories (days, projects, pools). */
export function barChart(
  canvas: HTMLCanvasElement,
  labels: string[],
  label: string,
  values: number[],
  format: (v: number) => string,
): Chart<"bar"> {
  return new Chart(canvas, {
    type: "bar",
    data: {
      labels,
      datasets: [
        {
          label,
          data: values,
          backgroundColor: colors().primary,
          borderRadius: 3,
          maxBarThickness: 48,
          ...{ series: "primary" },
        },
      ],
    },
    options: {
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (c) => `${label}: ${format(c.parsed.y ?? 0)}` } },
      },
      scales: {
        y: { beginAtZero: true, ticks: { callback: (v) => format(Number(v)) } },
        x: { grid: { display: false } },
      },
    },
  });
}

/** Stacked vertical bars: several series over the same categories (e.g. a pool's queued, running, retrying). */
export function stackedBarChart(
  canvas: HTMLCanvasElement,
  labels: string[],
  series: { label: string; values: number[]; series: Series }[],
  format: (v: number) => string,
): Chart<"bar"> {
  return new Chart(canvas, {
    type: "bar",
    data: {
      labels,
      datasets: series.map((s) => ({
        label: s.label,
        data: s.values,
        backgroundColor: colors()[s.series],
        maxBarThickness: 48,
        ...{ series: s.series },
      })),
    },
    options: {
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } } },
      scales: {
        x: { stacked: true, grid: { display: false } },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0, callback: (v) => format(Number(v)) } },
      },
    },
  });
}

type Span = [number, number] | null;

/** The timeline's rows and its five series (queue wait, execution, failed, backoff, gate wait). */
function timelineSeries(timeline: Timeline, now: number) {
  const origin = timeline.origin ?? now;
  const rel = (t: number) => t - origin;
  const out = {
    queue: [] as Span[],
    exec: [] as Span[],
    failed: [] as Span[],
    backoff: [] as Span[],
    waiting: [] as Span[],
  };
  for (const s of timeline.spans) {
    out.waiting.push(s.waitingFrom !== undefined ? [rel(s.waitingFrom), rel(s.endedAt ?? now)] : null);
    if (s.waitingFrom !== undefined) {
      for (const list of [out.queue, out.exec, out.failed, out.backoff]) list.push(null);
      continue;
    }
    const startedOrNow = s.startedAt ?? (s.endedAt === null ? now : s.endedAt);
    out.queue.push(s.queuedAt !== null ? [rel(s.queuedAt), rel(startedOrNow)] : null);
    const ran: Span = s.startedAt !== null ? [rel(s.startedAt), rel(s.endedAt ?? now)] : null;
    const bad = s.outcome === "failed" || s.outcome === "lost" || s.outcome === "retrying";
    out.exec.push(bad ? null : ran);
    out.failed.push(bad ? ran : null);
    out.backoff.push(
      s.endedAt !== null && s.outcome === "retrying" ? [rel(s.endedAt), rel(s.backoffUntil ?? now)] : null,
    );
  }
  return out;
}

function timelineData(timeline: Timeline, now: number) {
  const palette = colors();
  const dataset = (label: string, data: Span[], series: Series): ChartDataset<"bar", [number, number][]> => ({
    label,
    // Chart.js skips null entries; its typings do not admit them in floating-bar data.
    data: data as [number, number][],
    backgroundColor: palette[series],
    ...{ series },
    borderRadius: 2,
    borderSkipped: false,
    grouped: false,
    barPercentage: 0.7,
    categoryPercentage: 0.9,
    minBarLength: 2,
  });
  const s = timelineSeries(timeline, now);
  return {
    labels: timeline.spans.map((x) =>
      x.waitingFrom !== undefined ? `${x.stepId} (gate)` : `${x.stepId} #${x.attempt}`,
    ),
    datasets: [
      dataset("queue wait", s.queue, "queue"),
      dataset("execution", s.exec, "execution"),
      dataset("failed attempt", s.failed, "failed"),
      dataset("retry backoff", s.backoff, "backoff"),
      dataset("waiting (gate)", s.waiting, "waiting"),
    ],
  };
}

/** The same chart with the run's newer events: its data replaced, the canvas kept. */
export function updateTimelineChart(
  chart: Chart<"bar", [number, number][], string>,
  timeline: Timeline,
  now: number,
): void {
  chart.data = timelineData(timeline, now);
  chart.update();
}

/**
 * The per-attempt timeline as floating horizontal bars: one row per attempt, its queue wait,
 * execution and (after a failure) retry backoff side by side on a time axis from the run's start.
 */
export function timelineChart(
  canvas: HTMLCanvasElement,
  timeline: Timeline,
  now: number,
): Chart<"bar", [number, number][], string> {
  return new Chart<"bar", [number, number][], string>(canvas, {
    type: "bar",
    data: timelineData(timeline, now),
    options: {
      indexAxis: "y",
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } },
        tooltip: {
          callbacks: {
            label: (c) => {
              const raw = c.raw as [number, number] | null;
              return raw ? `${c.dataset.label}: ${formatDuration(raw[1] - raw[0])}` : "";
            },
          },
        },
      },
      scales: {
        x: {
          type: "linear",
          min: 0,
          ticks: { callback: (v) => formatDuration(Number(v)) },
          title: { display: true, text: "since the run's first event" },
        },
        y: { grid: { display: false } },
      },
    },
  });
}
