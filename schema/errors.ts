/**
 * Every error code the runtime produces, in one table: the API's problem+json answers, the
 * refusals Durable Objects return over RPC, and the errors a step or a run ends with. A code's
 * HTTP status and retry semantics are decided here, once, not at the site that throws it.
 *
 * - `status`: what the API answers with the code. `null`: the code only travels in a step's or a
 *   run's error, or in a refusal the API answers under another code (an external worker's stale
 *   lease is `lease.lapsed`, whatever the run refused it with); should one reach the API's error
 *   handler, it answers 500.
 * - `retryable`: whether trying again may succeed. For a step error it is the default a throw
 *   site may override (`NonRetryableError`, `RetryAfterError`); for the API, whether the same
 *   request may be answered differently later.
 * - `title`: a short human sentence, and the message of an error thrown without one.
 *
 * Below the table: the wire forms of errors, and the field errors of a refused request,
 * formatted once from zod's issues for every caller.
 */
import type { z } from "zod";

interface ErrorSpec {
  status: number | null;
  retryable: boolean;
  title: string;
}

export const ERRORS = {
  // The request itself, before any resource is looked at.
  "request.invalid": { status: 400, retryable: false, title: "The request is invalid." },
  "request.malformed_json": { status: 400, retryable: false, title: "The body is not valid JSON." },
  "request.too_deep": { status: 400, retryable: false, title: "The body nests too deeply." },
  "request.too_large": { status: 413, retryable: false, title: "The body is too large." },
  "request.unsupported_media_type": {
    status: 415,
    retryable: false,
    title: "The body must be JSON (Content-Type: application/json).",
  },
  "route.not_found": { status: 404, retryable: false, title: "No such route." },
  internal: { status: 500, retryable: true, title: "Internal error." },

  // Who is calling, and whether its tenant may.
  "auth.unauthenticated": {
    status: 401,
    retryable: false,
    title: "A valid API key is required: Authorization: Bearer <key>.",
  },
  "auth.insufficient_scope": { status: 403, retryable: false, title: "This key lacks the needed scope." },
  "tenant.suspended": { status: 403, retryable: false, title: "This tenant is suspended." },
  "rate.limited": { status: 429, retryable: true, title: "Too many requests for this tenant; slow down." },
  "quota.exceeded": { status: 429, retryable: true, title: "This tenant's monthly run quota is spent." },
  "budget.exceeded": {
    status: 429,
    retryable: true,
    title: "This month's cost budget is spent; new runs are refused until the month ends or the budget is raised.",
  },

  // Creating a run: blueprint, step graph and inputs.
  "idempotency.conflict": {
    status: 409,
    retryable: false,
    title: "This Idempotency-Key was used with a different body.",
  },
  "blueprint.not_found": { status: 422, retryable: false, title: "No such blueprint." },
  "blueprint.invalid_input": { status: 422, retryable: false, title: "The input does not fit the blueprint." },
  "step.unknown_type": { status: 422, retryable: false, title: "A step names a type the runtime does not know." },
  "step.type_disabled": { status: 422, retryable: false, title: "Diagnostic job types are disabled here." },
  "step.invalid_input": { status: 422, retryable: false, title: "A step's input does not fit its type." },
  "run.invalid_graph": { status: 422, retryable: false, title: "The step graph is not a valid DAG." },

  // Runs and their controls.
  "run.not_found": { status: 404, retryable: false, title: "No such run." },
  "operation.not_found": { status: 404, retryable: false, title: "No such bulk operation." },
  "operation.active": {
    status: 409,
    retryable: false,
    title: "Another bulk operation of this tenant is under way: wait for it, or stop it.",
  },
  "operation.too_many": {
    status: 400,
    retryable: false,
    title: "The filter matches more runs than a bulk operation may change (limits.maxBulk): narrow it, or give ids.",
  },
  "run.archived": {
    status: 409,
    retryable: false,
    title: "The run is archived: it can be read and deleted, not changed.",
  },
  "artifact.not_found": { status: 404, retryable: false, title: "No such artifact." },
  "artifact.not_zip": { status: 422, retryable: false, title: "Only zip artifacts can be diffed." },
  "artifact.rejected": {
    status: 409,
    retryable: false,
    title: "The secret scan rejected this artifact; it cannot be downloaded.",
  },
  "run.not_cancellable": { status: 409, retryable: false, title: "The run cannot be cancelled now." },
  "run.not_pausable": { status: 409, retryable: false, title: "The run cannot be paused now." },
  "run.not_resumable": { status: 409, retryable: false, title: "The run cannot be resumed now." },
  "run.illegal_transition": { status: 409, retryable: false, title: "The run cannot make that change now." },
  "run.not_retryable": { status: 409, retryable: false, title: "Only a failed or cancelled run can be retried." },
  "run.active": { status: 409, retryable: false, title: "The run is not finished: cancel it before deleting it." },

  // Approval gates and signals.
  "approval.not_found": { status: 404, retryable: false, title: "The run has no such approval gate." },
  "approval.not_pending": { status: 409, retryable: false, title: "The approval gate is not waiting for a decision." },
  "approval.already_decided": {
    status: 409,
    retryable: false,
    title: "The approval gate was already decided the other way.",
  },
  "approval.not_an_approver": { status: 403, retryable: false, title: "This key may not decide this approval gate." },
  "approval.link_invalid": { status: 404, retryable: false, title: "No such decision link." },
  "approval.link_used": { status: 409, retryable: false, title: "This decision link was used already." },
  "approval.link_expired": { status: 410, retryable: false, title: "This decision link has expired." },
  "signal.already_received": {
    status: 409,
    retryable: false,
    title: "The run already received this signal with another body.",
  },
  "signal.invalid_body": {
    status: 422,
    retryable: false,
    title: "The signal's body does not fit the waiting step's schema.",
  },
  "signal.too_large": { status: 413, retryable: false, title: "The signal's body is too large." },
  "signal.limit": {
    status: 429,
    // Room comes back as steps take their signals: a later try may be accepted.
    retryable: true,
    title: "The run keeps as many signals for steps that do not wait yet as it may.",
  },
  "signal.unknown": { status: 404, retryable: false, title: "No step of this run can ever wait for this signal." },

  // Schedules (docs/schedules-and-triggers.md).
  "schedule.not_found": { status: 404, retryable: false, title: "No such schedule." },
  "schedule.invalid_spec": { status: 400, retryable: false, title: "The schedule's spec cannot be scheduled." },
  "schedule.limit": { status: 409, retryable: false, title: "The tenant has as many schedules as its limit allows." },
  "trigger.not_found": { status: 404, retryable: false, title: "No such trigger." },
  "trigger.limit": { status: 409, retryable: false, title: "The tenant has as many triggers as it may have." },
  "callback.invalid": { status: 404, retryable: false, title: "No such callback URL." },
  "callback.expired": { status: 410, retryable: false, title: "This callback URL has expired." },
  "duration.invalid": {
    status: 400,
    retryable: false,
    title: "A duration is not an ISO 8601 duration of fixed length within its bounds.",
  },
  "callback.bad_signature": {
    status: 401,
    retryable: false,
    title: "The callback's signature header is missing or does not match its body.",
  },
  "event.too_large": { status: 413, retryable: false, title: "The event is too large (at most 256 KiB)." },

  // External workers' leases.
  "lease.not_found": { status: 404, retryable: false, title: "No such lease." },
  "lease.lapsed": { status: 409, retryable: false, title: "This lease is no longer current." },

  // Webhooks.
  "webhook.not_found": { status: 404, retryable: false, title: "No such webhook endpoint." },
  "delivery.not_found": { status: 404, retryable: false, title: "No such delivery." },

  // A tenant's OTLP collector (docs/telemetry.md).
  "telemetry.endpoint_forbidden": {
    status: 400,
    retryable: false,
    title: "The collector's endpoint is refused: an internal address, or plain http outside local development.",
  },
  "telemetry.not_configured": { status: 404, retryable: false, title: "The tenant has no collector of its own." },

  // Administration.
  "tenant.not_found": { status: 404, retryable: false, title: "No such tenant." },
  "tenant.exists": { status: 409, retryable: false, title: "The tenant already exists." },
  "tenant.purging": {
    status: 409,
    retryable: false,
    title: "The tenant is being purged; it cannot be changed or created again until the purge finishes.",
  },
  "tenant.reserved": { status: 409, retryable: false, title: "Tenant 'dev' is the local development tenant." },
  "key.not_found": { status: 404, retryable: false, title: "No such live key." },
  "scan.allow_list_full": {
    status: 409,
    retryable: false,
    title: "The project's allow list is full (1,000 fingerprints).",
  },
  "scan.fingerprint_not_found": { status: 404, retryable: false, title: "No such fingerprint on the allow list." },
  "token.not_found": { status: 404, retryable: false, title: "No such live token." },

  // A tenant's own workers: pools and job types (docs/external-workers.md).
  "pool.not_found": { status: 404, retryable: false, title: "The tenant has no such pool." },
  "pool.exists": { status: 409, retryable: false, title: "The tenant has a pool by that name already." },
  "pool.limit": { status: 409, retryable: false, title: "The tenant has as many pools as it may (20)." },
  "pool.in_use": { status: 409, retryable: false, title: "Job types route to this pool: give them another first." },
  "job_type.not_found": { status: 404, retryable: false, title: "The tenant has no job type by that name." },
  "job_type.reserved": {
    status: 400,
    retryable: false,
    title: "A job type's namespace may not be one of the runtime's own (system., repo., agent., external., …).",
  },
  "job_type.invalid_schema": { status: 400, retryable: false, title: "A job type's schema is not valid JSON Schema." },
  "job_type.version_conflict": {
    status: 409,
    retryable: false,
    title: "Job type versions are immutable and increase: this one is not newer than the last.",
  },
  "job_type.limit": {
    status: 409,
    retryable: false,
    title: "The tenant has as many job types (100) or versions as it may.",
  },

  // A run's refusals of an attempt's calls (begin, heartbeat, report).
  // 409 where the API answers it (a signal to a run that is over); elsewhere a refusal of an attempt.
  "run.finished": { status: 409, retryable: false, title: "The run is over." },
  "step.not_found": { status: null, retryable: false, title: "The run has no such step." },
  "attempt.stale": { status: null, retryable: false, title: "The attempt is not the step's current one." },
  "attempt.duplicate": { status: null, retryable: false, title: "The attempt has begun already." },
  "attempt.not_running": { status: null, retryable: false, title: "The attempt is not running." },
  "step.illegal_transition": { status: null, retryable: false, title: "The step cannot make that change." },

  // How an attempt, a step or a run failed (a step's or a run's `error`).
  "step.error": { status: null, retryable: true, title: "The handler threw." },
  "step.timeout": { status: null, retryable: true, title: "The attempt passed its timeout." },
  "step.stopped": { status: null, retryable: false, title: "The run stopped the attempt." },
  "step.dead_lettered": { status: null, retryable: true, title: "The queue dead-lettered the attempt." },
  "step.undeliverable": { status: null, retryable: false, title: "No worker picked the step up." },
  "step.external": { status: null, retryable: false, title: "The step runs on external workers only." },
  "step.invalid_output": { status: null, retryable: false, title: "The output does not fit the step's type." },
  "step.output_too_large": { status: null, retryable: false, title: "The output is too large; write an artifact." },
  "spawn.invalid": { status: null, retryable: false, title: "The spawned steps are invalid." },
  "artifact.invalid_name": { status: null, retryable: false, title: "An artifact's name or key part is invalid." },
  "artifact.name_conflict": {
    status: null,
    retryable: false,
    title: "Another step already produced an artifact of that name.",
  },
  "artifact.secret_detected": {
    status: null,
    retryable: false,
    title: "The secret scan found a secret in an artifact; the block policy rejects it.",
  },
  "artifact.scan_incomplete": {
    status: null,
    retryable: false,
    title: "An artifact could not be scanned in full; the block policy rejects it.",
  },
  "run.step_failed": { status: null, retryable: false, title: "A step failed." },
  "run.deadline_exceeded": { status: null, retryable: false, title: "The run passed its deadline." },
  "approval.rejected": { status: null, retryable: false, title: "The approval gate was rejected." },
  "approval.expired": { status: null, retryable: false, title: "The approval gate timed out." },
  "signal.timed_out": { status: null, retryable: false, title: "No signal came in time." },

  // Thrown by job handlers.
  "agent.rate_limited": { status: null, retryable: true, title: "The model provider asks to slow down." },
  "agent.upstream_error": { status: null, retryable: true, title: "The model provider failed." },
  "agent.unavailable": { status: null, retryable: true, title: "The model provider is unreachable." },
  "agent.request_refused": { status: null, retryable: false, title: "The model provider refused the request." },
  "agent.provider_unavailable": { status: null, retryable: false, title: "No model provider is configured." },
  // Not a failure: the step is held, uncharged, until the dependency's circuit breaker lets calls through.
  "dependency.circuit_open": {
    status: null,
    retryable: true,
    title: "The dependency's circuit breaker is open; the step is held.",
  },
  "agent.malformed_output": { status: null, retryable: false, title: "The model's answer is not what was asked." },
  "repo.plan_missing": { status: null, retryable: false, title: "The step needs a repo.plan step upstream." },
  "repo.file_conflict": { status: null, retryable: false, title: "Two steps produced the same file." },
  "repo.nothing_to_package": { status: null, retryable: false, title: "No upstream step produced files." },
  "system.fail": { status: null, retryable: true, title: "The diagnostic job failed, as asked." },

  // Tenant secrets (docs/delivery.md).
  "secret.not_found": { status: 400, retryable: false, title: "A step references a secret the tenant does not hold." },
  "secret.external_pool": {
    status: 400,
    retryable: false,
    title: "A step on an external worker pool references a secret: secrets are opened only inside the runtime.",
  },
  "secret.absent": { status: 404, retryable: false, title: "No such secret." },
  "secret.limit": { status: 409, retryable: false, title: "The tenant holds the most secrets it may (200)." },
  "secret.unconfigured": { status: 503, retryable: false, title: "SECRETS_KEY is not set: secrets cannot be stored." },
  "secret.undecryptable": {
    status: null,
    retryable: false,
    title: "A secret opens under neither SECRETS_KEY nor SECRETS_KEY_PREVIOUS.",
  },

  // Delivery to a Git remote, a pull request, a pipeline (docs/delivery.md).
  "delivery.auth_failed": { status: null, retryable: false, title: "The remote refused the credentials." },
  "delivery.remote_unavailable": { status: null, retryable: true, title: "The remote could not be reached." },
  "delivery.remote_refused": { status: null, retryable: false, title: "The remote refused the request." },
  "delivery.no_artifact": { status: null, retryable: false, title: "The named step produced no repository artifact." },
  "delivery.branch_conflict": {
    status: null,
    retryable: false,
    title: "The branch exists with other content; set force: true to replace it.",
  },
  "delivery.url_refused": { status: null, retryable: false, title: "The remote URL is refused by the SSRF guard." },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** The codes the API answers with, with their status. */
export type ApiErrorCode = { [C in ErrorCode]: (typeof ERRORS)[C]["status"] extends number ? C : never }[ErrorCode];

/** A Durable Object's "no" over RPC: plain data, since class identity does not survive the call. */
export type Refusal<C extends ErrorCode = ErrorCode> = {
  ok: false;
  code: C;
  message: string;
  retryAfterMs?: number;
  /** RFC 9457 extension members the problem carries (a refused run's budget). */
  extensions?: ProblemExtensions;
};

/** Extension members a problem may carry besides its code and field errors. */
export interface ProblemExtensions {
  budget?: { month: string; project: string | null; limitUsd: number; spentUsd: number };
}

/** A refusal; without a message, the code's title is the message. */
export function refuse<C extends ErrorCode>(code: C, message: string = ERRORS[code].title): Refusal<C> {
  return { ok: false, code, message };
}

/** The HTTP status the API answers a code with (500 for one that should never reach it). */
export const httpStatus = (code: ErrorCode): number => ERRORS[code].status ?? 500;

/**
 * A code an external worker reported for its own failure (`POST …/leases/{lease}/result`): not
 * ours to name, so not in the registry. Branded, so that only `workerCode` makes one and a
 * mistyped code of ours still fails to compile.
 */
export type WorkerErrorCode = string & { readonly __workerErrorCode: true };
export const workerCode = (code: string): WorkerErrorCode => code as WorkerErrorCode;

/**
 * An error on the wire (a step's error, a queue message, an RPC answer): a code of the registry,
 * or one an external worker reported (`WorkerErrorCode`).
 */
export interface ErrorShape {
  code: ErrorCode | WorkerErrorCode;
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
  /** dependency.circuit_open: the dependency whose breaker is open. */
  dependency?: string;
}

/** One field of a refused request, and what is wrong with it. */
export interface FieldError {
  path: string;
  message: string;
}

/** zod's issues as field errors, their paths under `prefix` (e.g. `steps[2].input`). */
export function fieldErrors(error: z.ZodError, prefix = ""): FieldError[] {
  return error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter(Boolean).join("."),
    message: issue.message,
  }));
}
