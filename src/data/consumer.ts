/**
 * The data plane's queue consumer. Per message: validate, ask the run's DO to begin the
 * attempt (fencing), run the job, write artifacts, report the outcome, and only then ack.
 * A message whose outcome could not be recorded is retried, never acked.
 */
import { StepMessage } from "../../schema/messages";
import { LIMITS, type Json } from "../../schema/api";
import type { Env } from "../env";
import { AppError, NonRetryableError, toErrorShape, utf8Bytes } from "../errors";
import type { BeginResult, StepReport } from "../control/run/types";
import { runStub, type RunStub } from "../control/run/stub";
import { SimulatedCrash } from "./jobs/system";
import { createJobContext, resolveSpawn } from "./context";
import { jobFor } from "./jobs";
import { poolOfQueue } from "./pools";
import { fieldErrors } from "../control/resolve";
import { logError } from "../lib/log";

export async function consumeBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const source = poolOfQueue(batch.queue);
  // Settle every message before deciding anything: one crash must not cut the others' acks short.
  const outcomes = await Promise.allSettled(
    batch.messages.map((message) => (source?.deadLetter ? consumeDeadLetter(message, env) : consumeStep(message, env))),
  );
  const crashed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
  if (crashed) throw crashed.reason;
}

async function consumeStep(message: Message<unknown>, env: Env): Promise<void> {
  const parsed = StepMessage.safeParse(message.body);
  if (!parsed.success) {
    // Nothing to route it to: a poisoned message is logged and dropped, not retried forever.
    logError("consumer.invalid_message", { id: message.id, issues: parsed.error.issues.length });
    message.ack();
    return;
  }
  const m = parsed.data;
  const run = runStub(env, m.runId);
  let begun: BeginResult;
  try {
    begun = await run.begin(m.stepId, m.attempt);
  } catch (err) {
    logError("consumer.begin_failed", { runId: m.runId, tenantId: m.tenantId, stepId: m.stepId, attempt: m.attempt, traceId: m.traceId, error: String(err) });
    message.retry();
    return;
  }
  if (!begun.ok) {
    // Stale, duplicate, or the run is over: nothing to do, and nothing to redeliver.
    message.ack();
    return;
  }

  const report = await execute(m, begun, env, run);
  for (let tries = 0; ; tries++) {
    try {
      await run.report(report);
      message.ack();
      return;
    } catch (err) {
      if (tries >= 2) {
        logError("consumer.report_failed", { runId: m.runId, tenantId: m.tenantId, stepId: m.stepId, attempt: m.attempt, traceId: m.traceId, error: String(err) });
        message.retry();
        return;
      }
      await new Promise((r) => setTimeout(r, 100 * 2 ** tries));
    }
  }
}

async function execute(
  m: StepMessage,
  begun: Extract<BeginResult, { ok: true }>,
  env: Env,
  run: RunStub,
): Promise<StepReport> {
  const base = { stepId: m.stepId, attempt: m.attempt };
  const job = jobFor(m.type);
  if (!job) {
    return { ...base, outcome: "failed", error: { code: "step.unknown_type", message: `no handler for '${m.type}'`, retryable: false } };
  }
  const input = job.input.safeParse(begun.input);
  if (!input.success) {
    const detail = fieldErrors(input.error, "input").map((e) => `${e.path}: ${e.message}`).join("; ");
    return { ...base, outcome: "failed", error: { code: "step.invalid_input", message: detail, retryable: false } };
  }
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new AppError("step.timeout", `the attempt passed its ${begun.timeoutMs} ms timeout`)),
    begun.timeoutMs,
  );
  const { context, record } = createJobContext(m, begun, input.data, env, run, controller);
  try {
    const raw = await Promise.race([
      job.run(context),
      new Promise<never>((_, reject) =>
        controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true }),
      ),
    ]);
    const output = job.output.safeParse(raw);
    if (!output.success) throw new NonRetryableError("step.invalid_output", `the handler returned an output that does not fit '${m.type}'`);
    // Outputs are stored and handed to dependents as JSON: normalize once, and bound the size.
    const text = JSON.stringify(output.data ?? null);
    const outputBytes = utf8Bytes(text);
    if (outputBytes > LIMITS.outputBytes) {
      throw new NonRetryableError("step.output_too_large", `outputs are limited to ${LIMITS.outputBytes} bytes; write an artifact instead`);
    }
    const spawn = resolveSpawn(record.spawned, env);
    return { ...base, ...record.common(outputBytes), outcome: "succeeded", output: JSON.parse(text) as Json, artifacts: record.artifacts(), ...(spawn.length ? { spawn } : {}) };
  } catch (err) {
    if (err instanceof SimulatedCrash) throw err; // chaos: die before acking, like a killed process
    return { ...base, ...record.common(), outcome: "failed", error: toErrorShape(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** The queue gave up on a message: tell the run, whose retry policy decides what happens. */
async function consumeDeadLetter(message: Message<unknown>, env: Env): Promise<void> {
  const parsed = StepMessage.safeParse(message.body);
  if (!parsed.success) {
    message.ack();
    return;
  }
  try {
    await runStub(env, parsed.data.runId).deadLettered(parsed.data.stepId, parsed.data.attempt);
    message.ack();
  } catch (err) {
    logError("consumer.dead_letter_report_failed", { runId: parsed.data.runId, error: String(err) });
    message.retry();
  }
}


