/**
 * One run: summary and controls, the step graph, the per-attempt timeline, artifacts and the
 * event log. While the run is active it follows the event stream and redraws as events arrive.
 */
import type { ArtifactView, RunUsageView, RunView, WireEvent } from "../../../schema/api";
import { TERMINAL_RUN_STATUSES } from "../../../schema/vocabulary";
import type { Chart } from "chart.js";
import { ApiError } from "../api";
import { timelineChart } from "../charts";
import { emptyState, errorState, fill, h, kpi, pill } from "../dom";
import { NONE, elapsedMs, formatBytes, formatCount, formatDuration, formatTime, formatUsd } from "../format";
import { deriveTimeline, stepTimings } from "../timeline";
import { artifactsTable } from "./artifacts-table";
import { deliveryLinks } from "./delivery-links";
import { renderDag } from "./dag-view";
import type { View } from "./view";

/** Redraws are batched: a burst of events (a fan-out of steps) costs one refresh. */
const REDRAW_MS = 250;

export const renderRun: View = ({ api, main, navigate }, [id]) => {
  if (id === undefined) throw new Error("the run view is routed without a run id");
  const runId = id;
  const abort = new AbortController();
  const events: WireEvent[] = [];
  let run: RunView | null = null;
  let chart: Chart | null = null;
  let dag: { dispose(): void } | null = null;
  let redraw: ReturnType<typeof setTimeout> | undefined;

  const head = h("div", { class: "page-head" });
  const summary = h("section", { class: "panel" });
  /** Approval gates waiting for a decision: title, a comment, Approve and Reject. */
  const gatesPanel = h("div", { class: "gates", "data-testid": "gates" });
  const usagePanel = h("div", { class: "kpis kpis-inline", "data-testid": "run-usage" });
  const deliveryPanel = h("div");
  const dagPanel = h("div", { class: "panel-body" });
  const timelinePanel = h("div", { class: "panel-body" });
  const artifactsPanel = h("div", { class: "panel-body" });
  const eventsBody = h("tbody");
  const eventsPanel = h("div", { class: "panel-body events-scroll" });
  const liveBadge = h(
    "span",
    {
      class: "live",
      role: "status",
      "data-testid": "live",
      hidden: true,
      title: "following the run's events as they happen",
    },
    h("span", { class: "live-dot" }),
    "live",
  );

  const section = (title: string, body: HTMLElement, extra?: HTMLElement) =>
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, title), extra ?? null), body);
  fill(
    main,
    h("a", { class: "back", href: "#/runs" }, "← Runs"),
    head,
    gatesPanel,
    summary,
    deliveryPanel,
    usagePanel,
    section("Steps", dagPanel),
    section(
      "Timeline",
      timelinePanel,
      h("span", { class: "muted small" }, "queue wait, execution and retry backoff of each attempt; a gate's wait"),
    ),
    section("Artifacts", artifactsPanel),
    section("Events", eventsPanel),
  );
  fill(head, h("h1", { class: "mono" }, runId));
  fill(summary, h("div", { class: "loading" }, "Loading run…"));

  function renderHead(r: RunView): void {
    const action = (name: "cancel" | "pause" | "resume" | "retry", label: string, cls = "btn") =>
      h(
        "button",
        {
          class: cls,
          type: "button",
          "data-action": name,
          onclick: async (ev: Event) => {
            const btn = ev.currentTarget as HTMLButtonElement;
            btn.disabled = true;
            try {
              const next = await api.control(r.id, name);
              if (name === "retry") navigate(`#/runs/${next.id}`);
              else await refresh(true);
            } catch (err) {
              fill(summary, errorState(err));
            } finally {
              btn.disabled = false;
            }
          },
        },
        label,
      );
    const active = !TERMINAL_RUN_STATUSES.has(r.status);
    fill(
      head,
      h("h1", { class: "mono" }, r.id),
      h("span", { "data-testid": "run-status" }, pill(r.status)),
      // Archived: read from its archive in R2, so it can be read and deleted but no longer changed.
      r.archivedAt
        ? h("span", { "data-testid": "run-archived", title: "read from its archive" }, pill("archived"))
        : null,
      r.status === "queued"
        ? h("span", { class: "muted small" }, "waiting for one of the tenant's concurrency slots")
        : null,
      liveBadge,
      h(
        "div",
        { class: "actions" },
        active && r.status !== "paused" ? action("pause", "Pause") : null,
        r.status === "paused" ? action("resume", "Resume") : null,
        active ? action("cancel", "Cancel", "btn btn-danger") : null,
        (r.status === "failed" || r.status === "cancelled") && !r.retriedAs && !r.archivedAt
          ? action("retry", "Retry", "btn btn-primary")
          : null,
      ),
    );
    const item = (label: string, value: Node | string) =>
      h("div", { class: "field" }, h("dt", {}, label), h("dd", {}, value));
    const link = (other: string | null) => (other ? h("a", { href: `#/runs/${other}`, class: "mono" }, other) : NONE);
    fill(
      summary,
      h(
        "dl",
        { class: "fields" },
        item("Project", r.project),
        item("Blueprint", r.blueprint ?? "custom steps"),
        item("Created", formatTime(r.createdAt)),
        item("Started", formatTime(r.startedAt)),
        item("Finished", formatTime(r.finishedAt)),
        item(
          "Duration",
          formatDuration(
            elapsedMs(r.startedAt ?? r.createdAt, r.finishedAt ?? (active ? new Date().toISOString() : null)),
          ),
        ),
        item("Priority", r.priority),
        item("Failure policy", r.failurePolicy),
        item("Trace", h("span", { class: "mono small" }, r.traceId)),
        item("Retry of", link(r.retryOf)),
        item("Retried as", link(r.retriedAs)),
        item("Archived", formatTime(r.archivedAt)),
      ),
      r.error
        ? h(
            "div",
            { class: "error", role: "alert" },
            h("p", { class: "error-title" }, r.error.code),
            h("p", { class: "error-detail" }, r.error.message),
          )
        : null,
    );
  }

  /** One card per approval gate that waits, with what its step.waiting event said about it. */
  function renderGates(r: RunView): void {
    const waiting = r.steps.filter((s) => s.status === "waiting");
    fill(
      gatesPanel,
      waiting.map((s) => {
        const asked = events.findLast((e) => e.type === "step.waiting" && e.stepId === s.id)?.data ?? {};
        const since = s.startedAt ? formatDuration(elapsedMs(s.startedAt, new Date().toISOString())) : NONE;
        if (s.type === "signal") {
          return h(
            "section",
            { class: "panel gate", "data-gate": s.id },
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
        const comment = h("input", {
          type: "text",
          class: "gate-comment",
          placeholder: "comment (optional)",
          "aria-label": `Comment on ${s.id}`,
          maxlength: 2000,
        });
        const status = h("p", { class: "gate-status", role: "status" });
        const decide = (decision: "approve" | "reject") =>
          h(
            "button",
            {
              class: decision === "approve" ? "btn btn-primary" : "btn btn-danger",
              type: "button",
              "data-decision": decision,
              onclick: async (ev: Event) => {
                const btn = ev.currentTarget as HTMLButtonElement;
                btn.disabled = true;
                try {
                  await api.decide(r.id, s.id, decision, comment.value.trim());
                  await refresh(false);
                } catch (err) {
                  fill(status, errorState(err));
                } finally {
                  btn.disabled = false;
                }
              },
            },
            decision === "approve" ? "Approve" : "Reject",
          );
        return h(
          "section",
          { class: "panel gate", "data-gate": s.id },
          h(
            "div",
            { class: "gate-head" },
            pill("waiting"),
            h("strong", { class: "gate-title" }, String(asked.title ?? s.id)),
          ),
          typeof asked.description === "string" ? h("p", { class: "gate-description" }, asked.description) : null,
          h(
            "p",
            { class: "muted small" },
            `step ${s.id} · waiting ${since}`,
            typeof asked.expiresAt === "string"
              ? ` · on timeout (${formatTime(asked.expiresAt)}): ${String(asked.onTimeout)}`
              : "",
          ),
          h("div", { class: "gate-actions" }, comment, decide("approve"), decide("reject")),
          status,
        );
      }),
    );
  }

  async function renderUsage(): Promise<void> {
    let u: RunUsageView;
    try {
      u = await api.runUsage(runId);
    } catch (err) {
      fill(usagePanel, errorState(err));
      return;
    }
    const pools = Object.entries(u.pools)
      .map(([pool, p]) => `${pool} ${formatUsd(p.costUsd)}`)
      .join(" · ");
    fill(
      usagePanel,
      kpi(u.final ? "Cost" : "Cost so far", formatUsd(u.costUsd), "run-cost", u.costUsd, pools || undefined),
      kpi("Attempts", formatCount(u.attempts), "run-attempts", u.attempts, `${formatCount(u.steps)} steps`),
      kpi("Execution time", formatDuration(u.wallMs), "run-wall", u.wallMs),
      u.waitingMs > 0
        ? kpi("Waiting (gates)", formatDuration(u.waitingMs), "run-waiting", u.waitingMs, "no attempts, no cost")
        : null,
      kpi("CPU time (est.)", formatDuration(u.cpuMs), "run-cpu", u.cpuMs),
      kpi("Artifacts", formatBytes(u.artifactBytes), "run-artifact-bytes", u.artifactBytes),
      kpi("AI tokens in / out", `${formatCount(u.tokensIn)} / ${formatCount(u.tokensOut)}`, "run-tokens", u.tokensIn),
    );
  }

  function renderSteps(r: RunView): void {
    fill(deliveryPanel, deliveryLinks(r));
    dag?.dispose();
    if (r.steps.length === 0) {
      dag = null;
      fill(dagPanel, emptyState("No steps yet.", "They appear once the run is validated."));
      return;
    }
    const view = renderDag(r);
    dag = view;
    fill(dagPanel, view.el);
  }

  function renderTimeline(): void {
    chart?.destroy();
    chart = null;
    const timeline = deriveTimeline(events);
    if (timeline.spans.length === 0) {
      fill(timelinePanel, emptyState("No attempts yet.", "Each attempt shows here once its step is queued."));
      return;
    }
    const canvas = h("canvas", { role: "img", "aria-label": "Per-attempt timeline of the run's steps" });
    const box = h("div", { class: "chart chart-timeline" }, canvas);
    box.style.height = `${Math.max(180, timeline.spans.length * 30 + 90)}px`;
    const rows = stepTimings(timeline);
    fill(
      timelinePanel,
      // A run with hundreds of attempts scrolls inside the panel rather than stretching the page.
      h("div", { class: "timeline-scroll" }, box),
      h(
        "table",
        { class: "table compact", "data-testid": "timings" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", {}, "Step"),
            h("th", { class: "num" }, "Attempts"),
            h("th", { class: "num" }, "Queue wait"),
            h("th", { class: "num" }, "Execution"),
            h("th", { class: "num" }, "Retry backoff"),
            h("th", { class: "num" }, "Waiting (gate)"),
          ),
        ),
        h(
          "tbody",
          {},
          rows.map((t) =>
            h(
              "tr",
              { "data-step": t.stepId },
              h("td", {}, t.stepId),
              h("td", { class: "num" }, t.attempts),
              h("td", { class: "num" }, formatDuration(t.queueWaitMs)),
              h("td", { class: "num" }, formatDuration(t.executionMs)),
              h("td", { class: "num" }, t.backoffMs > 0 ? formatDuration(t.backoffMs) : NONE),
              h("td", { class: "num" }, t.waitingMs > 0 ? formatDuration(t.waitingMs) : NONE),
            ),
          ),
        ),
      ),
    );
    chart = timelineChart(canvas, timeline, Date.now());
  }

  async function renderArtifacts(): Promise<void> {
    let items: ArtifactView[];
    try {
      items = (await api.artifacts(runId)).items;
    } catch (err) {
      fill(artifactsPanel, errorState(err));
      return;
    }
    if (items.length === 0) {
      const over = run !== null && TERMINAL_RUN_STATUSES.has(run.status);
      fill(
        artifactsPanel,
        over
          ? emptyState("This run produced no artifacts.")
          : emptyState("No artifacts yet.", "Steps that produce files put them here."),
      );
      return;
    }
    fill(
      artifactsPanel,
      artifactsTable(items, run?.project ?? null, (a) => void download(a)),
    );
  }

  async function download(a: ArtifactView): Promise<void> {
    try {
      // The download needs the Authorization header, so fetch the bytes and hand over a blob URL.
      const url = URL.createObjectURL(await api.artifactBlob(runId, a.name));
      const link = h("a", { href: url, download: a.name, hidden: true });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      fill(artifactsPanel, errorState(err));
    }
  }

  function appendEvents(batch: WireEvent[]): void {
    if (events.length === 0 && batch.length > 0)
      fill(
        eventsPanel,
        h(
          "table",
          { class: "table compact", "data-testid": "events" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { class: "num" }, "#"),
              h("th", {}, "Time (UTC)"),
              h("th", {}, "Type"),
              h("th", {}, "Step"),
              h("th", {}, "Data"),
            ),
          ),
          eventsBody,
        ),
      );
    for (const e of batch) {
      events.push(e);
      const data = JSON.stringify(e.data);
      eventsBody.appendChild(
        h(
          "tr",
          { "data-type": e.type },
          h("td", { class: "num muted" }, e.seq),
          h("td", { class: "muted nowrap mono small", title: e.occurredAt }, e.occurredAt.slice(11, 23)),
          h("td", {}, h("span", { class: `event-type ${e.type.split(".")[0]}` }, e.type)),
          h("td", {}, e.stepId ?? ""),
          h("td", { class: "mono small data", title: data }, data === "{}" ? "" : data),
        ),
      );
    }
    if (events.length === 0) fill(eventsPanel, emptyState("No events yet."));
  }

  let latest = 0;
  async function refresh(withArtifacts: boolean): Promise<void> {
    // Refreshes can overlap (a batched redraw and the final one); only the newest may draw.
    const mine = ++latest;
    let fresh: RunView;
    try {
      fresh = await api.getRun(runId);
    } catch (err) {
      if (!abort.signal.aborted)
        fill(
          summary,
          err instanceof ApiError && err.status === 404
            ? emptyState("No such run.", h("a", { href: "#/runs" }, "Back to the runs"))
            : errorState(err),
        );
      return;
    }
    if (abort.signal.aborted || mine !== latest) return;
    run = fresh;
    renderHead(run);
    renderGates(run);
    renderSteps(run);
    renderTimeline();
    await Promise.all([renderUsage(), withArtifacts ? renderArtifacts() : null]);
  }

  let artifactsDirty = false;
  const schedule = () => {
    clearTimeout(redraw);
    redraw = setTimeout(() => {
      const withArtifacts = artifactsDirty;
      artifactsDirty = false;
      void refresh(withArtifacts);
    }, REDRAW_MS);
  };

  async function start(): Promise<void> {
    let log: { items: WireEvent[]; finished: boolean };
    try {
      log = await api.eventLog(runId, abort.signal);
    } catch (err) {
      if (abort.signal.aborted) return;
      fill(
        summary,
        err instanceof ApiError && err.status === 404
          ? emptyState("No such run.", h("a", { href: "#/runs" }, "Back to the runs"))
          : errorState(err),
      );
      return;
    }
    appendEvents(log.items);
    await refresh(true);
    if (log.finished || !run || TERMINAL_RUN_STATUSES.has(run.status)) return;
    liveBadge.hidden = false;
    try {
      await api.followEvents(
        runId,
        events.at(-1)?.seq ?? 0,
        (e) => {
          appendEvents([e]);
          artifactsDirty ||= e.type === "artifact.created";
          schedule();
        },
        abort.signal,
      );
    } catch (err) {
      if (!abort.signal.aborted) fill(eventsPanel, errorState(err));
    }
    liveBadge.hidden = true;
    if (!abort.signal.aborted) {
      clearTimeout(redraw);
      await refresh(true);
    }
  }

  void start();
  return () => {
    abort.abort();
    clearTimeout(redraw);
    chart?.destroy();
    dag?.dispose();
  };
};
