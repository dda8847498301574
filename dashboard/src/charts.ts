/**
 * Charts, drawn by Chart.js (tree-shaken: only the bar chart's parts are registered). Every
 * chart is made through here so they share fonts, colours and the no-animation setting (the
 * dashboard redraws live; animating each redraw would only flicker).
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
Chart.defaults.color = "#4b5563";
Chart.defaults.borderColor = "#e5e7eb";
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

export const COLORS = {
  primary: "#2563eb",
  queue: "#f59e0b",
  execution: "#2563eb",
  backoff: "#9ca3af",
  failed: "#dc2626",
  waiting: "#0d9488",
} as const;

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
      datasets: [{ label, data: values, backgroundColor: COLORS.primary, borderRadius: 3, maxBarThickness: 48 }],
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
  series: { label: string; values: number[]; color: string }[],
  format: (v: number) => string,
): Chart<"bar"> {
  return new Chart(canvas, {
    type: "bar",
    data: {
      labels,
      datasets: series.map((s) => ({ label: s.label, data: s.values, backgroundColor: s.color, maxBarThickness: 48 })),
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

/**
 * The per-attempt timeline as floating horizontal bars: one row per attempt, its queue wait,
 * execution and (after a failure) retry backoff side by side on a time axis from the run's start.
 */
export function timelineChart(
  canvas: HTMLCanvasElement,
  timeline: Timeline,
  now: number,
): Chart<"bar", [number, number][], string> {
  const origin = timeline.origin ?? now;
  const rows = timeline.spans;
  const rel = (t: number) => t - origin;
  const queue: ([number, number] | null)[] = [];
  const exec: ([number, number] | null)[] = [];
  const failed: ([number, number] | null)[] = [];
  const backoff: ([number, number] | null)[] = [];
  const waiting: ([number, number] | null)[] = [];
  for (const s of rows) {
    waiting.push(s.waitingFrom !== undefined ? [rel(s.waitingFrom), rel(s.endedAt ?? now)] : null);
    if (s.waitingFrom !== undefined) {
      for (const list of [queue, exec, failed, backoff]) list.push(null);
      continue;
    }
    const startedOrNow = s.startedAt ?? (s.endedAt === null ? now : s.endedAt);
    queue.push(s.queuedAt !== null ? [rel(s.queuedAt), rel(startedOrNow)] : null);
    const ran: [number, number] | null = s.startedAt !== null ? [rel(s.startedAt), rel(s.endedAt ?? now)] : null;
    const bad = s.outcome === "failed" || s.outcome === "lost" || s.outcome === "retrying";
    exec.push(bad ? null : ran);
    failed.push(bad ? ran : null);
    backoff.push(s.endedAt !== null && s.outcome === "retrying" ? [rel(s.endedAt), rel(s.backoffUntil ?? now)] : null);
  }
  const dataset = (
    label: string,
    data: ([number, number] | null)[],
    color: string,
  ): ChartDataset<"bar", [number, number][]> => ({
    label,
    // Chart.js skips null entries; its typings do not admit them in floating-bar data.
    data: data as [number, number][],
    backgroundColor: color,
    borderRadius: 2,
    borderSkipped: false,
    grouped: false,
    barPercentage: 0.7,
    categoryPercentage: 0.9,
    minBarLength: 2,
  });
  return new Chart<"bar", [number, number][], string>(canvas, {
    type: "bar",
    data: {
      labels: rows.map((s) => (s.waitingFrom !== undefined ? `${s.stepId} (gate)` : `${s.stepId} #${s.attempt}`)),
      datasets: [
        dataset("queue wait", queue, COLORS.queue),
        dataset("execution", exec, COLORS.execution),
        dataset("failed attempt", failed, COLORS.failed),
        dataset("retry backoff", backoff, COLORS.backoff),
        dataset("waiting (gate)", waiting, COLORS.waiting),
      ],
    },
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
