/**
 * The drill's schedules: 5 schedules `every: PT2S` (catchUp PT1M) fire, in a tenant of their own
 * (so their runs stay out of the main audit's webhooks and roll-ups), while the runtime is
 * SIGKILLed. Audit: every fire time from each schedule's first fire to its last has exactly one
 * run (the Idempotency-Key `schedule:{id}:{fireTime}` holds across kills; a fire missed while
 * the runtime was down is made up within catchUp), and firing spans every kill.
 */
import type { Runtime } from "../e2e/support/runtime";
import type { Kill } from "./attempts";

export const SCHEDULES = 5;
const EVERY_MS = 2_000;

/** Retries a call the runtime may be down for (a kill), until it answers `ok`. */
async function until(call: () => Promise<Response>, ok: (status: number) => boolean): Promise<Response> {
  for (let i = 0; ; i++) {
    const res = await call().catch(() => null);
    if (res && ok(res.status)) return res;
    // A refusal is the drill's own mistake, not the runtime being down: say so at once.
    if ((res && res.status < 500 && res.status !== 429) || i > 600)
      throw new Error(`no answer: ${res?.status ?? "down"} ${res ? await res.text() : ""}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A tenant of the schedules' own, and its schedules (firing from now on). */
export async function startSchedules(rt: Runtime): Promise<{ as: Runtime; ids: string[] }> {
  const admin = { authorization: `Bearer ${rt.adminToken}` };
  const tenant = await rt.fetch("/v1/admin/tenants", {
    method: "POST",
    headers: admin,
    json: {
      name: "Chaos schedules",
      limits: { maxConcurrentRuns: 1_000, requestsPerMinute: 1_000_000, monthlyRuns: 100_000_000 },
    },
  });
  const { id } = (await tenant.json()) as { id: string };
  const key = await rt.fetch(`/v1/admin/tenants/${id}/keys`, {
    method: "POST",
    headers: admin,
    json: { name: "chaos-schedules", scopes: ["runs:read", "runs:write"] },
  });
  const as = rt.as(((await key.json()) as { key: string }).key);
  const ids: string[] = [];
  for (let i = 0; i < SCHEDULES; i++) {
    const made = await as.fetch("/v1/schedules", {
      method: "POST",
      json: {
        project: `sched-${i}`,
        name: `chaos-${i}`,
        // A sleep of nothing: handled in the run's object, so the fires load no worker.
        steps: [{ id: "tick", type: "sleep", input: { for: "PT0S" } }],
        spec: { every: "PT2S" },
        catchUp: "PT1M",
        overlap: "allow",
      },
    });
    if (made.status !== 201) throw new Error(`schedule: ${made.status} ${await made.text()}`);
    ids.push(((await made.json()) as { id: string }).id);
  }
  // Each has fired once before the first kill, so the fires span every kill.
  for (const id of ids)
    for (let i = 0; ; i++) {
      const view = (await (await as.fetch(`/v1/schedules/${id}`)).json()) as { lastFires: unknown[] };
      if (view.lastFires.length > 0) break;
      if (i > 300) throw new Error(`schedule ${id} never fired`);
      await new Promise((r) => setTimeout(r, 100));
    }
  return { as, ids };
}

export interface ScheduleAudit {
  schedules: number;
  fires: number;
  doubled: number;
  missed: number;
  /** Schedules whose fires did not span every kill (first fire before the first, last after the last restart). */
  notSpanning: number;
  report: string[];
}

/**
 * Once each schedule has fired after the last restart, pauses them (so they load the rest of the
 * drill no more), waits for their last fires' runs to be listed, and audits one run per fire time.
 */
export async function auditSchedules(as: Runtime, ids: string[], kills: Kill[]): Promise<ScheduleAudit> {
  const upAt = kills.at(-1)?.upAt ?? 0;
  for (const id of ids) {
    for (let i = 0; i < 600; i++) {
      const res = await until(
        () => as.fetch(`/v1/schedules/${id}`),
        (s) => s === 200,
      );
      const fires = ((await res.json()) as { lastFires: { fireTime: string }[] }).lastFires;
      if (fires.some((f) => Date.parse(f.fireTime) >= upAt)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await until(
      () => as.fetch(`/v1/schedules/${id}`, { method: "PATCH", json: { paused: true } }),
      (s) => s === 200,
    );
  }
  // A fire in flight when the pause landed still opens its run: wait until the count holds still.
  let runIds: string[] = [];
  for (let stable = 0, i = 0; stable < 3 && i < 120; i++) {
    const next = await listRuns(as);
    stable = next.length === runIds.length ? stable + 1 : 0;
    runIds = next;
    await new Promise((r) => setTimeout(r, 500));
  }
  const bySchedule = new Map<string, number[]>(ids.map((id) => [id, []]));
  for (const runId of runIds) {
    const res = await until(
      () => as.fetch(`/v1/runs/${runId}`),
      (s) => s === 200,
    );
    const origin = ((await res.json()) as { origin?: { kind: string; id: string; fireTime?: string } }).origin;
    if (origin?.kind === "schedule" && origin.fireTime) bySchedule.get(origin.id)?.push(Date.parse(origin.fireTime));
  }
  const audit: ScheduleAudit = { schedules: ids.length, fires: 0, doubled: 0, missed: 0, notSpanning: 0, report: [] };
  const firstKill = kills[0]?.killedAt ?? 0;
  const lastUp = kills.at(-1)?.upAt ?? 0;
  for (const [id, times] of bySchedule) {
    times.sort((a, b) => a - b);
    const unique = [...new Set(times)];
    audit.fires += unique.length;
    audit.doubled += times.length - unique.length;
    const first = unique[0] ?? Number.POSITIVE_INFINITY;
    const last = unique.at(-1) ?? 0;
    // Every fire time on the schedule's grid between its first and its last has its run.
    const gaps = unique.length === 0 ? 0 : Math.round((last - first) / EVERY_MS) + 1 - unique.length;
    audit.missed += gaps;
    if (first > firstKill || last < lastUp) audit.notSpanning++;
    if (gaps > 0 || times.length !== unique.length || first > firstKill || last < lastUp)
      audit.report.push(
        `schedule ${id}: ${times.length} runs, ${unique.length} fire times from ${new Date(first).toISOString()} to ${new Date(last).toISOString()}, ${gaps} missing`,
      );
  }
  return audit;
}

async function listRuns(as: Runtime): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const res = await until(
      () => as.fetch(`/v1/runs?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`),
      (s) => s === 200,
    );
    const page = (await res.json()) as { items: { id: string }[]; nextCursor: string | null };
    ids.push(...page.items.map((r) => r.id));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}
