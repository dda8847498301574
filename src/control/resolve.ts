/**
 * From a run request to a validated step graph: blueprint expansion, job type lookup, input
 * validation, graph checks, defaults, against the job catalog (schema/jobs/). Pure; the API
 * calls it before anything is created, and the Run object for the steps a running step spawns.
 */
import { type CreateRunBody, type Json, type JsonObject, LIMITS, StepSpec } from "../../schema/api";
import { type JobDeclaration, jobDeclaration } from "../../schema/jobs";
import { AppError, utf8Bytes } from "../errors";
import { EXTERNAL_POOLS, POOL_REGISTRY } from "../../schema/pools";
import { secretRefs } from "../secrets/refs";
import { type FieldError, fieldErrors } from "../../schema/errors";
import type { ResolvedStep, RetryPolicy } from "../../schema/run";
import { BLUEPRINTS } from "../blueprints";
import { validateGraph } from "./run/dag";
import { isDurationIssue } from "../../schema/duration";
import { fillFromInput } from "./automation/event-waits";
import type { TenantJob } from "./tenant-jobs";
import { schemaProblems } from "../lib/json-schema";
import { resolveStepFlow, type StepFlowSpec } from "../../schema/flow";

export interface ResolveOptions {
  /** The global retry defaults; a blueprint's, then a step's own settings override them. */
  retry: RetryPolicy;
  /** Whether the `system` pool's diagnostic job types may be used (off in production). */
  diagnostics: boolean;
}

export const DEFAULT_RESOLVE_OPTIONS: ResolveOptions = {
  retry: { maxAttempts: 3, initialDelayMs: 1000, maxDelayMs: 5 * 60_000 },
  diagnostics: true,
};

export type Resolution = { ok: true; steps: ResolvedStep[] } | { ok: false; error: AppError };

/** `tenant`: the tenant's own job types the steps name, at the versions the run pins (./tenant-jobs.ts). */
export function resolveRun(
  body: CreateRunBody,
  options: ResolveOptions = DEFAULT_RESOLVE_OPTIONS,
  tenant?: ReadonlyMap<string, TenantJob>,
): Resolution {
  let defaults = options.retry;
  let specs: StepSpec[];
  if (body.blueprint !== undefined) {
    const blueprint = BLUEPRINTS.get(body.blueprint);
    if (!blueprint) {
      return fail(
        new AppError("blueprint.not_found", `No blueprint named '${body.blueprint}'. See GET /v1/blueprints.`),
      );
    }
    const input = blueprint.input.safeParse(body.input ?? {});
    if (!input.success) {
      return fail(
        new AppError("blueprint.invalid_input", `The input does not fit blueprint '${blueprint.name}'.`, {
          errors: fieldErrors(input.error, "input"),
        }),
      );
    }
    specs = blueprint.expand(input.data);
    defaults = { ...defaults, ...blueprint.retry };
  } else {
    specs = body.steps ?? [];
  }

  return resolveSteps(withRunInput(specs, (body.input ?? {}) as JsonObject), defaults, options.diagnostics, tenant);
}

/** Signal steps' event matches with their `{"$input": …}` values taken from the run's input. */
function withRunInput(specs: StepSpec[], input: JsonObject): StepSpec[] {
  return specs.map((s) => {
    const event = s.type === "signal" ? (s.input as { event?: { match?: unknown } } | undefined)?.event : undefined;
    if (!event || typeof event.match !== "object" || event.match === null) return s;
    const match = fillFromInput(event.match as Record<string, Json>, input);
    return { ...s, input: { ...(s.input as JsonObject), event: { ...event, match } } };
  });
}

/**
 * Job type lookup, input validation, graph checks and defaults for a set of steps: a run's, or
 * the steps a running step spawns (whose dependencies stay within the spawned set).
 */
export function resolveSteps(
  specs: StepSpec[],
  defaults: RetryPolicy,
  diagnostics: boolean,
  tenant?: ReadonlyMap<string, TenantJob>,
): Resolution {
  const declared: { spec: StepSpec; job: JobDeclaration }[] = [];
  const unknown: FieldError[] = [];
  specs.forEach((s, i) => {
    const job = jobDeclaration(s.type) ?? tenant?.get(s.type)?.declaration;
    if (job) declared.push({ spec: s, job });
    else unknown.push({ path: `steps[${i}].type`, message: `unknown step type '${s.type}'` });
  });
  if (unknown.length > 0)
    return fail(
      new AppError("step.unknown_type", "A step names a type the runtime does not know.", { errors: unknown }),
    );
  const disabled = diagnostics
    ? []
    : declared.flatMap(({ spec: s, job }, i) =>
        job.pool === "system" ? [{ path: `steps[${i}].type`, message: `'${s.type}' is a diagnostic job type` }] : [],
      );
  if (disabled.length > 0)
    return fail(new AppError("step.type_disabled", "Diagnostic job types are disabled here.", { errors: disabled }));

  // A worker outside Cloudflare is outside the boundary secrets are opened in: refused, not resolved.
  const leaked = declared.flatMap(({ spec: s, job }, i) =>
    (EXTERNAL_POOLS as readonly string[]).includes(job.pool) && secretRefs(s.input).size > 0
      ? [{ path: `steps[${i}].input`, message: `'${s.type}' runs on the external pool '${job.pool}'` }]
      : [],
  );
  if (leaked.length > 0)
    return fail(
      new AppError("secret.external_pool", "Steps on external worker pools cannot reference secrets.", {
        errors: leaked,
      }),
    );

  const graph = validateGraph(specs);
  if (graph.length > 0)
    return fail(new AppError("run.invalid_graph", "The step graph is not a valid DAG.", { errors: graph }));

  const steps: ResolvedStep[] = [];
  const invalid: FieldError[] = [];
  const keyErrors: FieldError[] = [];
  let durationsOnly = true;
  declared.forEach(({ spec: s, job }, i) => {
    const input = job.input.safeParse(s.input);
    if (!input.success) {
      invalid.push(...fieldErrors(input.error, `steps[${i}].input`));
      durationsOnly &&= input.error.issues.every((issue) =>
        isDurationIssue(issue as Parameters<typeof isDurationIssue>[0]),
      );
      return;
    }
    const problems = signalSchemaProblems(s, i);
    if (utf8Bytes(JSON.stringify(s.input)) > LIMITS.inputBytes)
      problems.push({ path: `steps[${i}].input`, message: `larger than ${LIMITS.inputBytes} bytes` });
    if (problems.length > 0) {
      invalid.push(...problems);
      durationsOnly = false;
      return;
    }
    const step = withFlow(
      s,
      i,
      resolvedStep(s, job, defaults, jobDeclaration(s.type) ? undefined : tenant?.get(s.type)),
    );
    if ("path" in step) keyErrors.push(step);
    else steps.push(step);
  });
  return settled(steps, invalid, keyErrors, durationsOnly);
}

/** A valid step as the run keeps it; a tenant job type's (`own`) with its version's retry policy and its pin. */
function resolvedStep(
  s: StepSpec,
  job: JobDeclaration,
  defaults: RetryPolicy,
  own?: TenantJob,
): ResolvedStep & { flowSpec?: StepFlowSpec } {
  return {
    id: s.id,
    type: s.type,
    pool: job.pool,
    input: s.input as JsonObject, // parsed from JSON, so JSON
    dependsOn: s.dependsOn,
    retry: retryPolicy(own?.retry ? { ...defaults, ...own.retry } : defaults, s.retry),
    timeoutMs: s.timeoutMs ?? job.timeoutMs ?? POOL_REGISTRY[job.pool].defaultTimeoutMs,
    ...(s.heartbeatTimeoutMs ? { heartbeatTimeoutMs: s.heartbeatTimeoutMs } : {}),
    ...(own ? { worker: own.pinned } : {}),
    ...(own?.flow ? { flowSpec: own.flow } : {}),
  };
}

/** The resolved steps, or why not: a key that does not resolve 400, a duration 400, any other input 422. */
function settled(
  steps: ResolvedStep[],
  invalid: FieldError[],
  keyErrors: FieldError[],
  durationsOnly: boolean,
): Resolution {
  if (keyErrors.length > 0 && invalid.length === 0)
    return fail(
      new AppError("request.invalid", "A step's flow-control key cannot be resolved.", { errors: keyErrors }),
    );
  // A duration that does not parse (or is out of range) is 400, as a schedule's is; any other input 422.
  if (invalid.length > 0 && durationsOnly)
    return fail(new AppError("duration.invalid", "A step's duration cannot be used.", { errors: invalid }));
  if (invalid.length > 0)
    return fail(new AppError("step.invalid_input", "A step's input does not fit its type.", { errors: invalid }));
  return { ok: true, steps };
}

/**
 * The step with its keys resolved against its input, its own over its job type's; or the field of
 * a key that does not resolve, which refuses the run (docs/flow-control.md, "Step keys").
 */
function withFlow(s: StepSpec, i: number, step: ResolvedStep & { flowSpec?: StepFlowSpec }): ResolvedStep | FieldError {
  const { flowSpec, ...resolved } = step;
  const flow = resolveStepFlow(s, flowSpec, s.input);
  if (!flow.ok) return { path: `steps[${i}].${flow.error.path}`, message: flow.error.message };
  return flow.flow ? { ...resolved, flow: flow.flow } : resolved;
}

/** A signal's schema is checked like a job type's: a body could never be matched against a broken one. */
function signalSchemaProblems(s: StepSpec, i: number): FieldError[] {
  const schema = s.type === "signal" ? (s.input as { schema?: unknown } | undefined)?.schema : undefined;
  return schema === undefined ? [] : schemaProblems(schema, `steps[${i}].input.schema`);
}

/** A step's own settings over the defaults; the ceiling never sits below the first delay. */
function retryPolicy(defaults: RetryPolicy, own: StepSpec["retry"]): RetryPolicy {
  const initialDelayMs = own?.initialDelayMs ?? defaults.initialDelayMs;
  return {
    maxAttempts: own?.maxAttempts ?? defaults.maxAttempts,
    initialDelayMs,
    maxDelayMs: Math.max(initialDelayMs, own?.maxDelayMs ?? defaults.maxDelayMs),
  };
}

/**
 * Validates what a running step spawned, like a run's own steps (types, inputs, graph, defaults).
 * A refusal fails the step, non-retryably: running it again would spawn the same.
 */
export function resolveSpawn(
  spawned: readonly unknown[],
  options: ResolveOptions,
  tenant?: ReadonlyMap<string, TenantJob>,
): { ok: true; steps: ResolvedStep[] } | { ok: false; message: string } {
  const specs = StepSpec.array().safeParse(spawned);
  if (!specs.success)
    return { ok: false, message: `spawned steps do not fit the step schema: ${specs.error.issues[0]?.message ?? ""}` };
  const resolution = resolveSteps(specs.data, options.retry, options.diagnostics, tenant);
  if (resolution.ok) return resolution;
  const detail = (resolution.error.errors ?? [])
    .slice(0, 3)
    .map((e) => `${e.path}: ${e.message}`)
    .join("; ");
  return { ok: false, message: `${resolution.error.message} ${detail}`.trim() };
}

const fail = (error: AppError): Resolution => ({ ok: false, error });
