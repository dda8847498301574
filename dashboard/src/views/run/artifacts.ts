/** The run's artifacts (artifacts-table.ts), read again when an artifact.created event arrives. */
import type { ArtifactView, RunView } from "../../../../schema/api";
import { TERMINAL_RUN_STATUSES } from "../../../../schema/vocabulary";
import { emptyState, errorState, fill, h, patch, scrollBox } from "../../dom";
import { artifactsTable } from "../artifacts-table";
import { type RunContext, type RunPanel, section } from "./panel";

export function artifactsPanel(ctx: RunContext): RunPanel {
  const body = h("div", { class: "panel-body" });
  const problem = h("div", { class: "action-problem" });

  async function download(a: ArtifactView): Promise<void> {
    try {
      // The download needs the Authorization header, so fetch the bytes and hand over a blob URL.
      const url = URL.createObjectURL(await ctx.api.artifactBlob(ctx.runId, a.name));
      const link = h("a", { href: url, download: a.name, hidden: true });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      fill(problem, errorState(err));
    }
  }

  async function show(r: RunView): Promise<void> {
    let items: ArtifactView[];
    try {
      items = (await ctx.api.artifacts(ctx.runId)).items;
    } catch (err) {
      patch(body, errorState(err));
      return;
    }
    if (items.length === 0) {
      const over = TERMINAL_RUN_STATUSES.has(r.status);
      patch(
        body,
        over
          ? emptyState("This run produced no artifacts.")
          : emptyState("No artifacts yet.", "Steps that produce files put them here."),
      );
      return;
    }
    patch(
      body,
      problem,
      scrollBox(
        "Artifacts",
        artifactsTable(items, r.project, (a) => void download(a)),
      ),
    );
  }

  return {
    el: section("Artifacts", body),
    async update(r, change) {
      if (change.artifacts) await show(r);
    },
  };
}
