/**
 * The chaos drill's reading of a run's event log: each step's attempts with their times and
 * outcomes, which of them a kill of the runtime cut short, and whether a failed step is explained
 * by kills alone (the rule in docs/reliability.md).
 */

/** A kill of the whole runtime: SIGKILL at `killedAt`, serving again from `upAt`. */
export interface Kill {
  n: number;
  killedAt: number;
  upAt: number;
}

export interface WireEvent {
  eventId: string;
  seq: number;
  type: string;
  stepId?: string;
  occurredAt: string;
  data: { attempt?: number; phase?: string; error?: { code: string; message: string }; reason?: string };
}

export interface Attempt {
  n: number;
  queuedAt: number | null;
  startedAt: number | null;
  endedAt: number | null;
  outcome: "succeeded" | "failed" | "lost" | "refused" | "open";
  error: { code: string; message: string } | null;
  /** Kills that fell between the attempt's start and its end: the runtime died while it ran. */
  kills: number[];
  /** How long after its start the first of them came. */
  killedAfterMs: number | null;
}

/** Each step's attempts, in order, from its events. */
export function attemptsByStep(events: readonly WireEvent[], kills: readonly Kill[]): Map<string, Attempt[]> {
  const steps = new Map<string, Map<number, Attempt>>();
  const get = (stepId: string, n: number): Attempt => {
    const byN = steps.get(stepId) ?? new Map<number, Attempt>();
    steps.set(stepId, byN);
    const found = byN.get(n);
    if (found) return found;
    const a: Attempt = {
      n,
      queuedAt: null,
      startedAt: null,
      endedAt: null,
      outcome: "open",
      error: null,
      kills: [],
      killedAfterMs: null,
    };
    byN.set(n, a);
    return a;
  };
  for (const e of events) {
    const n = e.data.attempt;
    if (!e.stepId || n === undefined) continue;
    const a = get(e.stepId, n);
    const at = Date.parse(e.occurredAt);
    if (e.type === "step.queued") a.queuedAt = at;
    else if (e.type === "step.started") a.startedAt = at;
    else if (e.type === "step.succeeded") [a.outcome, a.endedAt] = ["succeeded", at];
    else if (e.type === "step.retrying" || e.type === "step.failed")
      [a.outcome, a.endedAt, a.error] = ["failed", at, e.data.error ?? null];
    else if (e.type === "step.lease_expired" && e.data.phase === "queued") [a.outcome, a.endedAt] = ["lost", at];
    // A refused result is an audit line about a superseded attempt; it does not end one.
  }
  const out = new Map<string, Attempt[]>();
  for (const [stepId, byN] of steps) {
    const list = [...byN.values()].sort((x, y) => x.n - y.n);
    for (const a of list) {
      if (a.startedAt === null) continue;
      const end = a.endedAt ?? Number.POSITIVE_INFINITY;
      const during = kills.filter((k) => k.killedAt >= a.startedAt! && k.killedAt <= end);
      a.kills = during.map((k) => k.n);
      a.killedAfterMs = during[0] ? during[0].killedAt - a.startedAt : null;
    }
    out.set(stepId, list);
  }
  return out;
}

/**
 * Whether a failed step failed only because the runtime was killed under it: every failed attempt
 * either timed out (its lease expired) with a kill during its run, or is one of the failures the
 * plan itself injects (`planned`: a `system.fail` or `system.crash` step's `times`). "During its
 * run" is the first `workMs` after its start: an attempt whose handler had that long, and whose
 * lease still ran out, lost its result some other way, and a later kill does not explain that.
 */
export function killedOut(attempts: readonly Attempt[], planned: number, workMs: number): boolean {
  const failed = attempts.filter((a) => a.outcome === "failed");
  const byKill = failed.filter(
    (a) => a.error?.code === "step.timeout" && a.killedAfterMs !== null && a.killedAfterMs <= workMs,
  );
  return byKill.length > 0 && failed.length - byKill.length <= planned;
}

const clock = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString().slice(11, 23));

/** One line per attempt, for the drill's report. */
export function describeAttempt(a: Attempt): string {
  const error = a.error ? ` ${a.error.code}: ${a.error.message}` : "";
  const kills = a.kills.length
    ? ` kills #${a.kills.join(", #")} before its lease ended, the first ${a.killedAfterMs} ms after its start`
    : "";
  return `attempt ${a.n}: queued ${clock(a.queuedAt)} started ${clock(a.startedAt)} ended ${clock(a.endedAt)} ${a.outcome}${error}${kills}`;
}

export const describeKill = (k: Kill) => `kill #${k.n} at ${clock(k.killedAt)}, up at ${clock(k.upAt)}`;
