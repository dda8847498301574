/** Helpers for flow-control key tests: polling, and the running intervals read from runs' event logs. */
import type { RunView } from "../../schema/api";
import { api } from "./api";

/** Polls `check` until it holds (a generous bound: the machine may be loaded). */
export async function until<T>(
  what: string,
  read: () => Promise<T>,
  check: (v: T) => boolean,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Each run's running interval, from its event log: run.started to its end. */
export async function intervals(runs: RunView[], key: string): Promise<{ id: string; from: number; to: number }[]> {
  return Promise.all(
    runs.map(async (r) => {
      const log = await api(`/v1/runs/${r.id}/events?limit=1000`, { key });
      const items = ((await log.json()) as { items: { type: string; occurredAt: string }[] }).items;
      const at = (t: string) => Date.parse(items.find((e) => e.type === t)?.occurredAt ?? "");
      return { id: r.id, from: at("run.started"), to: at("run.succeeded") };
    }),
  );
}

export function overlaps(spans: { from: number; to: number }[]): number {
  const sorted = [...spans].sort((a, b) => a.from - b.from);
  let found = 0;
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.from < sorted[i - 1]!.to) found++;
  return found;
}
