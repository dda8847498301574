/** The run's usage as cards: cost (so far, then final), attempts, execution, waiting, CPU, bytes, tokens. */
import type { RunUsageView } from "../../../../schema/api";
import { errorState, h, kpi, patch } from "../../dom";
import { formatBytes, formatCount, formatDuration, formatUsd } from "../../format";
import type { RunContext, RunPanel } from "./panel";

function cards(u: RunUsageView): (HTMLElement | null)[] {
  const pools = Object.entries(u.pools)
    .map(([pool, p]) => `${pool} ${formatUsd(p.costUsd)}`)
    .join(" · ");
  return [
    kpi(u.final ? "Cost" : "Cost so far", formatUsd(u.costUsd), "run-cost", u.costUsd, pools || undefined),
    kpi("Attempts", formatCount(u.attempts), "run-attempts", u.attempts, `${formatCount(u.steps)} steps`),
    kpi("Execution time", formatDuration(u.wallMs), "run-wall", u.wallMs),
    u.waitingMs > 0
      ? kpi("Waiting (gates)", formatDuration(u.waitingMs), "run-waiting", u.waitingMs, "no attempts, no cost")
      : null,
    kpi("CPU time (est.)", formatDuration(u.cpuMs), "run-cpu", u.cpuMs),
    kpi("Artifacts", formatBytes(u.artifactBytes), "run-artifact-bytes", u.artifactBytes),
    kpi("AI tokens in / out", `${formatCount(u.tokensIn)} / ${formatCount(u.tokensOut)}`, "run-tokens", u.tokensIn),
  ];
}

export function usagePanel(ctx: RunContext): RunPanel {
  const el = h("section", { class: "kpis kpis-inline", "data-testid": "run-usage", "aria-label": "Usage" });
  return {
    el,
    async update() {
      try {
        patch(el, cards(await ctx.api.runUsage(ctx.runId)));
      } catch (err) {
        patch(el, errorState(err));
      }
    },
  };
}
