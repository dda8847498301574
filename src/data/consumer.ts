/**
 * The data plane's queue consumer. Per message: validate, ask the run's DO to begin the
 * attempt (fencing), run the job, write artifacts, report the outcome, and only then ack.
 * A message whose outcome could not be recorded is retried, never acked.
 */
import { StepMessage } from "../../schema/messages";
import { LIMITS, type Json } from "../../schema/api";
import type { Env } from "../env";
import { AppError, NonRetryableError, toErrorShape, utf8Bytes } from "../errors";
import type { PoolName } from "../../schema/vocabulary";
import { runStub, type RunStub } from "../control/run/stub";
import { SimulatedCrash } from "./jobs/system";
import { createJobContext } from "./context";
import type { JobContext, JobDefinition } from "./job";
import { jobFor } from "./jobs";
import { poolOfQueue } from "./pools";
import { throughBreaker } from "./breakers/gate";
import { logError } from "../lib/log";
import { sha256Hex } from "../lib/crypto";
import type { BeginResult, Continuation, ReportResult, StepReport } from "../../schema/run";
import { fieldErrors } from "../../schema/errors";
import { redact, secretRefs, substitute } from "../secrets/refs";
import { resolveSecrets } from "./secrets";

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
    logError("consumer.begin_failed", { ...attemptFields(m), error: String(err) });
    message.retry();
    return;
  }
  if (!begun.ok) {
    // Stale, duplicate, or the run is over: nothing to do, and nothing to redeliver.
    message.ack();
    return;
  }

  // The run may hand back the next step in this pool with each report: run it here, without a
  // queue trip, for a bounded number of steps and time so that one message cannot hold the
  // consumer. A continuation has no message of its own: if this invocation dies with it, its
  // running lease re-dispatches it.
  let current: Continuation = { message: m, begun };
  const until = Date.now() + CONTINUE_FOR_MS;
  for (let step = 0; ; step++) {
    const report = await executeWithSecrets(current.message, current.begun, env, run, step > 0);
    const more = step < MAX_CONTINUATIONS && Date.now() < until;
    const answer = await reportWithRetries(run, current.message, report, more ? current.message.pool : undefined);
    if (step === 0) {
      // The message is done once its outcome is recorded; unrecorded, the queue delivers it again.
      if (answer) message.ack();
      else message.retry();
    }
    if (!answer?.ok || !answer.next) return;
    current = answer.next;
  }
}

/** What names an attempt in a log line (never its input or output). */
const attemptFields = (m: StepMessage) => ({
  runId: m.runId,
  tenantId: m.tenantId,
  stepId: m.stepId,
  attempt: m.attempt,
  traceId: m.traceId,
});

/** Steps one message may run in a row (itself included), and for how long. */
const MAX_CONTINUATIONS = 49;
const CONTINUE_FOR_MS = 10_000;

/** Reports an outcome, retrying briefly; null when it could not be recorded. */
async function reportWithRetries(
  run: RunStub,
  m: StepMessage,
  report: StepReport,
  continueIn: PoolName | undefined,
): Promise<ReportResult | null> {
  for (let tries = 0; ; tries++) {
    try {
      return await run.report(report, continueIn);
    } catch (err) {
      if (tries >= 2) {
        logError("consumer.report_failed", { ...attemptFields(m), error: String(err) });
        return null;
      }
      await new Promise((r) => setTimeout(r, 100 * 2 ** tries));
    }
  }
}

/**
 * Runs the attempt with its input's secret references replaced by their values, and redacts those
 * values from everything it reports (output, logs, error). A step without references costs nothing more.
 */
async function executeWithSecrets(
  m: StepMessage,
  begun: Extract<BeginResult, { ok: true }>,
  env: Env,
  run: RunStub,
  continued: boolean,
): Promise<StepReport> {
  const names = secretRefs(begun.input);
  if (names.size === 0) return execute(m, begun, begun.input, env, run, continued);
  let values: Map<string, string>;
  try {
    values = await resolveSecrets(env, begun.tenantId, [...names]);
  } catch (err) {
    return { stepId: m.stepId, attempt: m.attempt, outcome: "failed", error: toErrorShape(err) };
  }
  const report = await execute(m, begun, substitute(begun.input, values), env, run, continued);
  return redact(report, [...values.values()]);
}

async function execute(
  m: StepMessage,
  begun: Extract<BeginResult, { ok: true }>,
  /** The input the handler sees: the step's own, its secret references resolved. */
  given: unknown,
  env: Env,
  run: RunStub,
  continued: boolean,
): Promise<StepReport> {
  const base = { stepId: m.stepId, attempt: m.attempt };
  const job = jobFor(m.type);
  if (!job) {
    return {
      ...base,
      outcome: "failed",
      error: { code: "step.unknown_type", message: `no handler for '${m.type}'`, retryable: false },
    };
  }
  const input = job.input.safeParse(given);
  if (!input.success) {
    const detail = fieldErrors(input.error, "input")
      .map((e) => `${e.path}: ${e.message}`)
      .join("; ");
    return { ...base, outcome: "failed", error: { code: "step.invalid_input", message: detail, retryable: false } };
  }
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new AppError("step.timeout", `the attempt passed its ${begun.timeoutMs} ms timeout`)),
    begun.timeoutMs,
  );
  const { context, record } = createJobContext(m, begun, input.data, env, run, controller, { queued: !continued });
  try {
    const raw = await runUntilSettled(job, context, env, begun.tenantId, controller);
    const { text, outputBytes } = outputJson(job, raw, m.type);
    // Spawned steps go to the run as asked for: it resolves them against the catalog.
    const spawn = record.spawned;
    // Lineage: each artifact names the input it was built from.
    const written = record.artifacts();
    const inputSha256 = written.length ? await sha256Hex(JSON.stringify(begun.input)) : null;
    return {
      ...base,
      ...record.common(outputBytes),
      outcome: "succeeded",
      output: JSON.parse(text) as Json,
      artifacts: inputSha256 ? written.map((a) => ({ ...a, inputSha256 })) : written,
      ...(spawn.length ? { spawn } : {}),
    };
  } catch (err) {
    if (err instanceof SimulatedCrash) throw err; // chaos: die before acking, like a killed process
    const rejected = record.rejected();
    return {
      ...base,
      ...record.common(),
      outcome: "failed",
      error: toErrorShape(err),
      ...(rejected.length ? { rejected } : {}),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** The job's result, or the reason the attempt was aborted (its timeout, or the run stopping it). */
function runUntilSettled(
  job: JobDefinition,
  context: JobContext<unknown>,
  env: Env,
  tenantId: string,
  controller: AbortController,
): Promise<unknown> {
  // A job that declares its dependency runs through that dependency's breaker: a retryable
  // failure counts against it, and while it is open the step is held instead of attempted.
  const work = job.dependency
    ? throughBreaker(
        {
          env,
          dependency: job.dependency,
          tenantId,
          signal: controller.signal,
          isFailure: (err) => toErrorShape(err).retryable,
        },
        () => job.run(context),
      )
    : job.run(context);
  return Promise.race([
    work,
    new Promise<never>((_, reject) =>
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true }),
    ),
  ]);
}

/** The handler's output as the JSON text that is stored, checked against its declaration and size limit. */
function outputJson(job: JobDefinition, raw: unknown, type: string): { text: string; outputBytes: number } {
  const output = job.output.safeParse(raw);
  if (!output.success)
    throw new NonRetryableError("step.invalid_output", `the handler returned an output that does not fit '${type}'`);
  // Outputs are stored and handed to dependents as JSON: normalize once, and bound the size.
  const text = JSON.stringify(output.data ?? null);
  const outputBytes = utf8Bytes(text);
  if (outputBytes > LIMITS.outputBytes) {
    throw new NonRetryableError(
      "step.output_too_large",
      `outputs are limited to ${LIMITS.outputBytes} bytes; write an artifact instead`,
    );
  }
  return { text, outputBytes };
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
