/** What a job handler is given (its JobContext), and what it leaves to report with its outcome. */
import type { StepMessage } from "../../schema/messages";
import { fingerprinter } from "../artifacts/fingerprint";
import { createArtifactWriter } from "../artifacts/writer";
import type { RunStub } from "../control/run/stub";
import type { Env } from "../env";
import { AppError, NonRetryableError } from "../errors";
import { PROVIDER_FAILURES, providerDependency, providerFor } from "./agents/providers";
import type { Completion, CompletionRequest } from "./agents/providers";
import { throughBreaker } from "./breakers/gate";
import type { JobContext } from "./job";
import { attemptSpan, type ExternalCall, externalSpan, spanIdOf, traceparentOf } from "../lib/trace";
import { AttemptMeter } from "./meter";
import { urlGuard } from "../outbound/guard";
import { guardUrl } from "../outbound/guard";
import type { Artifact, BeginResult, ExternalCallRecord, ReportCommon, SpawnStep } from "../../schema/run";

const MAX_LOG_LINES = 50;
const MAX_LOG_CHARS = 2_000;
/** Outgoing calls an attempt reports as spans; later ones still carry a traceparent (the attempt's). */
const MAX_CALLS = 20;

/** Times an attempt's outgoing calls into `calls`, each under a span id its traceparent names. */
function externalCalls(m: StepMessage, traceId: string, calls: ExternalCallRecord[]): ExternalCall {
  let n = 0;
  return async (service, fn) => {
    const i = n++;
    if (i >= MAX_CALLS) return fn(traceparentOf(traceId, spanIdOf(m.runId, attemptSpan(m.stepId, m.attempt))));
    const startMs = Date.now();
    const record = (error?: string) =>
      calls.push({ service, n: i, startMs, endMs: Date.now(), ...(error ? { error: error.slice(0, 200) } : {}) });
    try {
      const result = await fn(traceparentOf(traceId, spanIdOf(m.runId, externalSpan(m.stepId, m.attempt, i))));
      record();
      return result;
    } catch (err) {
      record(err instanceof AppError ? err.code : String(err));
      throw err;
    }
  };
}

export function createJobContext(
  m: StepMessage,
  begun: Extract<BeginResult, { ok: true }>,
  input: unknown,
  env: Env,
  run: RunStub,
  controller: AbortController,
  delivery: { queued: boolean } = { queued: true },
) {
  const writer = createArtifactWriter(
    env.ARTIFACTS,
    {
      tenantId: begun.tenantId,
      runId: m.runId,
      stepId: m.stepId,
      attempt: m.attempt,
    },
    begun.scanning,
    fingerprinter(env.FINGERPRINT_KEY, begun.tenantId),
  );
  const meter = new AttemptMeter(delivery.queued);
  const logs: NonNullable<ReportCommon["logs"]> = [];
  const spawned: SpawnStep[] = [];
  const calls: ExternalCallRecord[] = [];

  const context: JobContext<unknown> = {
    input,
    upstream: begun.upstream,
    runId: m.runId,
    stepId: m.stepId,
    attempt: m.attempt,
    tenantId: begun.tenantId,
    traceId: begun.traceId,
    traceparent: traceparentOf(begun.traceId, spanIdOf(m.runId, attemptSpan(m.stepId, m.attempt))),
    external: externalCalls(m, begun.traceId, calls),
    artifacts: writer,
    signal: controller.signal,
    heartbeat: async () => {
      // A heartbeat that cannot get through is not fatal: the lease decides, not this call.
      meter.heartbeat();
      const answer = await run.heartbeat(m.stepId, m.attempt).catch(() => null);
      if (answer && !answer.ok)
        controller.abort(new NonRetryableError("step.stopped", `the run stopped this attempt: ${answer.message}`));
    },
    log: (message, fields) => {
      if (logs.length < MAX_LOG_LINES)
        logs.push({ level: "info", message: message.slice(0, MAX_LOG_CHARS), ...(fields ? { fields } : {}) });
    },
    meter: (u) => meter.tokens(u),
    readArtifact: async (name) => {
      const entry = await run.artifact(begun.tenantId, name);
      if (!entry) return null;
      const object = await env.ARTIFACTS.get(entry.key);
      if (!object) return null;
      return { stepId: entry.stepId, createdAt: entry.createdAt, bytes: new Uint8Array(await object.arrayBuffer()) };
    },
    checkOutbound: (url) => guardUrl(url, urlGuard(env)),
    spawn: (steps) => {
      spawned.push(...steps);
    },
    ai: {
      complete: (request) => completeModelCall(env, begun.tenantId, controller, request, context),
    },
  };

  const record = {
    spawned,
    artifacts: (): Artifact[] => writer.written,
    /** Artifacts the scan rejected: the failed report lists them, with their findings. */
    rejected: (): Artifact[] => writer.rejected,
    /** Logs and usage; `outputBytes` is the size of the output the attempt returns, if any. */
    common: (outputBytes = 0): Pick<ReportCommon, "logs" | "usage" | "calls"> => ({
      ...(logs.length ? { logs } : {}),
      ...(calls.length ? { calls } : {}),
      usage: meter.usage(outputBytes + writer.written.reduce((n, a) => n + a.size, 0)),
    }),
  };
  return { context, record };
}

/**
 * One model call for a job: through the provider's breaker when it declares a dependency, and
 * metered and logged on the attempt's context.
 */
async function completeModelCall(
  env: Env,
  tenantId: string,
  controller: AbortController,
  request: Omit<CompletionRequest, "signal">,
  context: JobContext<unknown>,
): Promise<Completion> {
  const provider = providerFor(env);
  const dependency = providerDependency(env, request.model);
  // The provider's side of the call joins the trace under the call's own span.
  const call = () =>
    context.external(`ai.${provider.name}`, (traceparent) =>
      provider.complete({ ...request, signal: controller.signal, traceparent: traceparent ?? context.traceparent }),
    );
  const completion = dependency
    ? await throughBreaker(
        {
          env,
          dependency,
          tenantId,
          signal: controller.signal,
          isFailure: (err) => err instanceof AppError && PROVIDER_FAILURES.has(err.code),
        },
        call,
      )
    : await call();
  context.meter({ tokensIn: completion.tokensIn, tokensOut: completion.tokensOut, model: completion.model });
  context.log("model call", {
    provider: provider.name,
    model: completion.model,
    tokensIn: completion.tokensIn,
    tokensOut: completion.tokensOut,
  });
  return completion;
}
