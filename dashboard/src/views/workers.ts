/**
 * The tenant's own workers (docs/external-workers.md): each pool with its backlog and its workers
 * (labels, live or gone, in flight, completed, failed), and the job types with every version.
 * Pools and worker tokens are made and revoked here too (./workers-manage.ts); job types with the
 * API or `factory job-types …`.
 */
import type { JobTypeVersion, PoolView, WorkerView } from "../../../schema/workers";
import type { Api } from "../api";
import { emptyState, errorState, fill, h, patch, scrollBox } from "../dom";
import { formatTime } from "../format";
import type { View } from "./view";
import { createPoolForm, tokensPanel } from "./workers-manage";

const labelText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ") || "—";

function table(caption: string, testid: string, head: string[], rows: HTMLElement[]): HTMLElement {
  return scrollBox(
    caption,
    h(
      "table",
      { class: "table", "data-testid": testid },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          head.map((t) => h("th", { scope: "col" }, t)),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
}

function workersTable(pool: string, items: WorkerView[]): HTMLElement {
  if (items.length === 0)
    return emptyState("No worker has leased from this pool yet.", `factory workers token ${pool}`);
  return table(
    `Workers of ${pool}`,
    `workers-${pool}`,
    ["Worker", "State", "Labels", "Kinds", "In flight", "Completed", "Failed", "Last seen"],
    items.map((w) =>
      h(
        "tr",
        { "data-key": w.id, "data-worker": w.id },
        h("td", { class: "mono" }, w.id),
        h("td", {}, w.live ? "live" : "gone"),
        h("td", { class: "mono" }, labelText(w.labels)),
        h("td", { class: "mono" }, w.kinds?.join(", ") ?? "any"),
        h("td", {}, String(w.inFlight)),
        h("td", {}, String(w.completed)),
        h("td", {}, String(w.failed)),
        h("td", { class: "muted" }, formatTime(w.lastSeen)),
      ),
    ),
  );
}

async function poolSection(api: Api, pool: PoolView): Promise<HTMLElement> {
  const [detail, workers] = await Promise.all([api.pool(pool.name), api.poolWorkers(pool.name)]);
  return h(
    "section",
    { class: "panel", "data-pool": pool.name },
    h("div", { class: "panel-head" }, h("h2", {}, `Pool ${pool.name}`)),
    h(
      "div",
      { class: "panel-body" },
      h(
        "p",
        { class: "muted" },
        `${detail.waiting} step(s) waiting`,
        detail.oldestAgeMs !== null ? `, the oldest for ${Math.round(detail.oldestAgeMs / 1000)} s` : "",
        ` · labels ${labelText(pool.labels)}`,
      ),
      workersTable(pool.name, workers.items),
    ),
  );
}

function jobTypesTable(items: { name: string; versions: JobTypeVersion[] }[]): HTMLElement {
  if (items.length === 0) return emptyState("No job types yet.", "factory job-types create <file.json>");
  return table(
    "Job types",
    "job-types",
    ["Job type", "Version", "Pool", "Requires", "Timeout", "Created"],
    items.flatMap(({ name, versions }) =>
      versions.map((v, i) =>
        h(
          "tr",
          { "data-key": `${name}@${v.version}`, "data-job-type": name },
          h("td", { class: "mono" }, i === 0 ? name : ""),
          h("td", {}, `v${v.version}${i === 0 ? " (current)" : ""}`),
          h("td", { class: "mono" }, v.pool),
          h("td", { class: "mono" }, labelText(v.requires.labels)),
          h("td", {}, v.timeoutMs ? `${Math.round(v.timeoutMs / 1000)} s` : "default"),
          h("td", { class: "muted" }, formatTime(v.createdAt)),
        ),
      ),
    ),
  );
}

export const renderWorkers: View = ({ api, main, announce }) => {
  let disposed = false;
  const tokens = tokensPanel(api, announce);
  const poolsBody = h("div", {}, h("div", { class: "loading" }, "Loading pools…"));
  const typesBody = h("div", { class: "panel-body" }, h("div", { class: "loading" }, "Loading job types…"));
  const load = async (): Promise<void> => {
    try {
      const [{ items: pools }, { items: latest }] = await Promise.all([api.pools(), api.jobTypes()]);
      const sections = await Promise.all(pools.map((p) => poolSection(api, p)));
      const versions = await Promise.all(latest.map((j) => api.jobTypeVersions(j.name)));
      if (disposed) return;
      tokens.setPools(pools.map((p) => p.name));
      patch(
        poolsBody,
        sections.length
          ? h("div", {}, sections)
          : h("section", { class: "panel" }, emptyState("No pools yet.", "factory workers create-pool <name>")),
      );
      patch(typesBody, jobTypesTable(versions));
    } catch (err) {
      if (!disposed) fill(poolsBody, errorState(err));
    }
  };
  fill(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Workers")),
    poolsBody,
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Job types")), typesBody),
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Worker tokens")), tokens.element),
    h(
      "section",
      { class: "panel panel-narrow" },
      h("div", { class: "panel-head" }, h("h2", {}, "Create a pool")),
      h(
        "div",
        { class: "panel-body" },
        createPoolForm(api, announce, async (name) => {
          await load();
          tokens.setPools(tokens.names(), name);
        }),
      ),
    ),
  );
  void load();
  const timer = setInterval(() => void load(), 5_000);
  return () => {
    disposed = true;
    clearInterval(timer);
  };
};
