/** Following a run live: per-step progress on a terminal, one line per event otherwise. */
import type { EventEnvelope, FactoryClient, RunView } from "@factory-runtime/client";

type StepState = { id: string; status: string; attempts: number; hint?: string };

const ICON: Record<string, string> = {
  pending: "·",
  queued: "…",
  running: "▶",
  retrying: "↻",
  waiting: "⏸",
  succeeded: "✓",
  failed: "✗",
  cancelled: "⊘",
  skipped: "–",
};
const DONE = new Set(["succeeded", "failed", "cancelled", "skipped"]);

export function progressBar(done: number, total: number, width = 24): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}] ${done}/${total}`;
}

/** Follows the run to its end; returns the final run. `json` prints events as NDJSON. */
export async function watchRun(
  client: FactoryClient,
  runId: string,
  opts: { json: boolean; out: NodeJS.WriteStream },
): Promise<RunView> {
  const run = await client.getRun(runId);
  const steps = new Map<string, StepState>(
    run.steps.map((s) => [s.id, { id: s.id, status: s.status, attempts: s.attempts }]),
  );
  for (const s of run.steps) {
    const state = steps.get(s.id);
    if (state && s.status === "waiting") state.hint = decideHint(runId, s.id, s.type);
  }
  const tty = opts.out.isTTY && !opts.json;
  let drawn = 0;

  const draw = (status: string) => {
    const list = [...steps.values()];
    const done = list.filter((s) => DONE.has(s.status)).length;
    const lines = [
      `${runId}  ${status.padEnd(9)} ${progressBar(done, list.length)}`,
      ...list.map(
        (s) =>
          `  ${ICON[s.status] ?? "?"} ${s.id.padEnd(24)} ${s.status}${s.attempts > 1 ? ` (attempt ${s.attempts})` : ""}${
            s.status === "waiting" && s.hint ? `  → ${s.hint}` : ""
          }`,
      ),
    ];
    if (drawn > 0) opts.out.write(`\x1b[${drawn}A`);
    opts.out.write(lines.map((l) => `\x1b[2K${l}\n`).join(""));
    drawn = lines.length;
  };

  if (tty) draw(run.status);
  for await (const event of client.follow(runId)) {
    apply(steps, event, runId);
    if (opts.json) opts.out.write(`${JSON.stringify(event)}\n`);
    else if (tty) draw(event.type.startsWith("run.") ? event.type.slice(4) : run.status);
    else
      opts.out.write(
        `${event.occurredAt.slice(11, 23)}  ${event.type.padEnd(18)} ${event.stepId ?? ""}${attemptOf(event)}${
          event.type === "step.waiting" ? `  → ${waitingHint(runId, event)}` : ""
        }\n`,
      );
  }
  return client.getRun(runId);
}

/** What to run to end a wait: decide an approval gate, or send the signal a step waits for. */
function decideHint(runId: string, stepId: string, type: string, signal?: string): string {
  return type === "signal"
    ? `factory runs signal ${runId} ${signal ?? "<name>"} --data-json '{…}'`
    : `factory approvals approve|reject ${runId} ${stepId} [--comment …]`;
}

function waitingHint(runId: string, event: EventEnvelope): string {
  const signal = typeof event.data.name === "string" ? event.data.name : undefined;
  return decideHint(runId, event.stepId ?? "", event.data.kind === "signal" ? "signal" : "approval", signal);
}

function attemptOf(event: EventEnvelope): string {
  const attempt = event.data.attempt;
  return typeof attempt === "number" ? `  (attempt ${attempt})` : "";
}

function apply(steps: Map<string, StepState>, event: EventEnvelope, runId: string): void {
  if (!event.stepId) return;
  const step = steps.get(event.stepId) ?? { id: event.stepId, status: "pending", attempts: 0 };
  const status = event.type.startsWith("step.") ? event.type.slice(5) : null;
  const next: Record<string, string> = {
    queued: "queued",
    started: "running",
    succeeded: "succeeded",
    failed: "failed",
    retrying: "retrying",
    cancelled: "cancelled",
    skipped: "skipped",
    reused: "succeeded",
    waiting: "waiting",
  };
  const mapped = status ? next[status] : undefined;
  if (mapped) step.status = mapped;
  if (status === "waiting") step.hint = waitingHint(runId, event);
  if (typeof event.data.attempt === "number") step.attempts = Math.max(step.attempts, event.data.attempt);
  steps.set(step.id, step);
}
