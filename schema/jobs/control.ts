/**
 * Control-plane step types: the run's own object handles them (pool `control`). Nothing is
 * dispatched and no attempt is spent: the step waits (`waiting`) for a decision or a signal, or
 * for its timeout, which is a timer row like any lease.
 */
import { z } from "zod";
import { declareJob } from "./declare";
import { durationString } from "../duration";
import { SecretRef } from "../secrets";

/** The longest a gate may wait (the run's deadline, when it has one, still bounds it). */
export const MAX_WAIT_MS = 30 * 86_400_000;
/** The largest signal body the run keeps. */
export const MAX_SIGNAL_BYTES = 64 * 1024;
/**
 * Signals a run keeps for steps that do not wait yet (429 signal.limit beyond): without a bound,
 * one `runs:write` key could fill a run's object with bodies no step will ever take.
 */
export const MAX_EARLY_SIGNALS = 64;
export const MAX_EARLY_SIGNAL_BYTES = 1024 * 1024;

/** A signal's name: what `POST /v1/runs/{id}/signals/{name}` names. */
export const SIGNAL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

const waitMs = z.number().int().min(1000).max(MAX_WAIT_MS);

export const ON_TIMEOUT = ["reject", "approve", "fail"] as const;

export const approval = declareJob({
  type: "approval",
  pool: "control",
  description:
    "Waits for a person's decision (POST …/steps/{stepId}/approve or reject, a signed link, the dashboard or the CLI). " +
    "Approved: the step succeeds with the decision as its output; rejected: it fails with approval.rejected.",
  input: z
    .object({
      title: z.string().min(1).max(200),
      description: z.string().max(4000).optional(),
      approvers: z
        .object({
          /** A deciding key must hold every one of these scopes (besides approvals:grant). */
          scopes: z.array(z.string().max(64)).max(10).optional(),
          /** Only these key ids may decide. */
          keys: z.array(z.string().max(64)).max(50).optional(),
          /**
           * The key that created the run may decide (and be issued links): off by default, so a
           * key cannot wave its own run through its gate.
           */
          allowRequester: z.boolean().optional(),
        })
        .strict()
        .optional(),
      timeoutMs: waitMs.optional(),
      onTimeout: z.enum(ON_TIMEOUT).default("reject"),
    })
    .strict(),
  output: z.object({
    decision: z.literal("approved"),
    by: z.record(z.string(), z.unknown()),
    comment: z.string().nullable(),
    decidedAt: z.string(),
  }),
  timeoutMs: MAX_WAIT_MS,
});

/** A signal step's event match: paths at most this deep, the whole at most this many bytes (as a trigger's). */
export const MAX_EVENT_MATCH_DEPTH = 8;
export const MAX_EVENT_MATCH_BYTES = 2048;

/**
 * An event a signal step may be woken by (`POST /v1/events`), with no run id: its type and the
 * values its dotted paths must hold. A value `{"$input": "repo"}` is the run's input there,
 * filled in when the run is made (src/control/resolve.ts).
 */
const EventWake = z
  .object({
    type: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, "letters, digits, '_', '.', ':', '-'; at most 64"),
    match: z
      .record(
        z.string().min(1).max(200),
        z.union([
          z.string().max(500),
          z.number(),
          z.boolean(),
          z.null(),
          z.object({ $input: z.string().min(1).max(200) }).strict(),
        ]),
      )
      .default({})
      .superRefine((match, ctx) => {
        for (const path of Object.keys(match))
          if (path.split(".").length > MAX_EVENT_MATCH_DEPTH)
            ctx.addIssue({ code: "custom", path: [path], message: `deeper than ${MAX_EVENT_MATCH_DEPTH} levels` });
        if (JSON.stringify(match).length > MAX_EVENT_MATCH_BYTES)
          ctx.addIssue({ code: "custom", message: `larger than ${MAX_EVENT_MATCH_BYTES} bytes` });
      }),
  })
  .strict();

/**
 * A check of the sender's own signature on a callback URL's POST (GitHub and Azure DevOps
 * service hooks style): the header holds `sha256=<hex>`, the HMAC-SHA256 of the raw body under
 * the tenant secret named here (src/api/callback-verify.ts).
 */
const CallbackVerify = z
  .object({
    header: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,99}$/, "an HTTP header name, e.g. X-Hub-Signature-256"),
    secret: SecretRef,
  })
  .strict();

/** The JSON-schema subset a signal's body may be checked against (see src/control/run/gates.ts). */
const SignalSchema = z.record(z.string(), z.unknown());

export const signal = declareJob({
  type: "signal",
  pool: "control",
  description:
    "Waits for POST /v1/runs/{id}/signals/{name}; the signal's JSON body (checked against `schema`, a JSON-schema " +
    "subset: type, properties, required, items, enum) becomes the step's output. A signal sent before the step waits is kept. " +
    "With `verify`, a POST to its callback URL must carry the sender's HMAC of the body. With `event`, an event of that type whose data matches (POST /v1/events) completes the waiting step with the event's `data`.",
  input: z
    .object({
      name: z.string().regex(SIGNAL_NAME, "letters, digits, '_', '.', ':', '-'; at most 64"),
      timeoutMs: waitMs.optional(),
      schema: SignalSchema.optional(),
      event: EventWake.optional(),
      verify: CallbackVerify.optional(),
    })
    .strict(),
  output: z.unknown(),
  timeoutMs: MAX_WAIT_MS,
});

/** The longest a run may sleep (`sleep`, `sleepUntil`). */
export const MAX_SLEEP_MS = 365 * 86_400_000;

/** A sleep step's output: when it was to wake and when it did. */
const SleepOutput = z.object({ until: z.string(), wokeAt: z.string() });

export const sleepFor = declareJob({
  type: "sleep",
  pool: "control",
  description:
    "Waits `for` an ISO 8601 duration (PT10M, P7D; at most 365 days) in the run's object: no worker, no attempt, " +
    "a timer row that survives restarts. The step is `waiting` meanwhile.",
  input: z.object({ for: durationString(0, MAX_SLEEP_MS) }).strict(),
  output: SleepOutput,
  timeoutMs: MAX_SLEEP_MS,
});

export const sleepUntil = declareJob({
  type: "sleepUntil",
  pool: "control",
  description:
    "Waits until `until` (an ISO 8601 time with its offset, at most 365 days ahead; a past time wakes at once), " +
    "like `sleep`.",
  input: z
    .object({
      until: z
        .string()
        .datetime({ offset: true })
        .refine((t) => Date.parse(t) <= Date.now() + MAX_SLEEP_MS, "at most 365 days ahead"),
    })
    .strict(),
  output: SleepOutput,
  timeoutMs: MAX_SLEEP_MS,
});
