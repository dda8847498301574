/**
 * Contracts of a tenant's automation (src/control/automation/): schedules that start runs from
 * time, and (below) events and triggers that start runs from what happens elsewhere.
 * Guide: docs/schedules-and-triggers.md.
 */
import { z } from "@hono/zod-openapi";
import { CreateRunBody } from "./api";

/** Schedules a tenant may have when its limits name none. */
export const DEFAULT_MAX_SCHEDULES = 1_000;
/** The shortest `every` outside production (production: one minute). */
export const MIN_EVERY_MS = 1_000;
export const MIN_EVERY_MS_PRODUCTION = 60_000;
/** Fires shown by GET: the next ones ahead, and the last ones made. */
export const NEXT_FIRES_SHOWN = 5;
export const LAST_FIRES_SHOWN = 10;

export const OVERLAP_POLICIES = ["skip", "buffer-one", "allow"] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** What became of a fire time. */
export const FIRE_OUTCOMES = ["started", "skipped", "refused", "missed"] as const;
export type FireOutcome = (typeof FIRE_OUTCOMES)[number];

const Duration = z
  .string()
  .max(40)
  .openapi({ description: "an ISO 8601 duration: PT30S, PT15M, PT1H, P1D, P1W", example: "PT15M" });

export const ScheduleSpec = z
  .union([
    z
      .object({
        cron: z.string().min(1).max(120).openapi({ example: "0 9 * * 1-5" }),
        timezone: z.string().min(1).max(64).default("UTC").openapi({ example: "Europe/Berlin" }),
      })
      .strict(),
    z.object({ every: Duration }).strict(),
    z.object({ at: z.string().datetime({ offset: true }).openapi({ example: "2026-12-31T23:00:00Z" }) }).strict(),
  ])
  .openapi("ScheduleSpec", {
    description: "when it fires: a cron expression in a time zone, every fixed duration, or once at a time",
  });
export type ScheduleSpec = z.infer<typeof ScheduleSpec>;

const { callback: _callback, ...runFields } = CreateRunBody.shape;
const oneOfBlueprintOrSteps = {
  check: (b: { blueprint?: unknown; steps?: unknown }) => (b.blueprint === undefined) !== (b.steps === undefined),
  message: { message: "give exactly one of `blueprint` or `steps`", path: ["blueprint"] },
};

const scheduleFields = {
  name: z.string().max(200).optional().openapi({ description: "a label for people" }),
  spec: ScheduleSpec,
  overlap: z.enum(OVERLAP_POLICIES).default("skip").openapi({
    description:
      "when the previous fire's run is still going: skip this fire, keep one to start when it ends, or start anyway",
  }),
  catchUp: Duration.default("PT0S").openapi({
    description: "how far back fires missed during an outage are made up (a fire late by under a minute is on time)",
  }),
  paused: z.boolean().default(false),
};

export const CreateScheduleBody = z
  .object({ ...runFields, ...scheduleFields })
  .strict()
  .refine(oneOfBlueprintOrSteps.check, oneOfBlueprintOrSteps.message)
  .openapi("CreateScheduleBody");
export type CreateScheduleBody = z.infer<typeof CreateScheduleBody>;
/** What a caller may send to create a schedule (defaults filled in by the API). */
export type CreateScheduleInput = z.input<typeof CreateScheduleBody>;

export const UpdateScheduleBody = z
  .object({
    name: scheduleFields.name,
    spec: ScheduleSpec.optional(),
    overlap: z.enum(OVERLAP_POLICIES).optional(),
    catchUp: Duration.optional(),
    paused: z.boolean().optional(),
    input: runFields.input,
  })
  .strict()
  .openapi("UpdateScheduleBody");
export type UpdateScheduleBody = z.infer<typeof UpdateScheduleBody>;

export const FireView = z
  .object({
    fireTime: z.string().datetime(),
    firedAt: z.string().datetime(),
    outcome: z.enum(FIRE_OUTCOMES),
    runId: z.string().nullable(),
    reason: z.string().nullable().openapi({ description: "why it was skipped, refused or missed" }),
  })
  .openapi("ScheduleFire");
export type FireView = z.infer<typeof FireView>;

export const ScheduleView = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    project: z.string(),
    blueprint: z.string().nullable(),
    spec: ScheduleSpec,
    overlap: z.enum(OVERLAP_POLICIES),
    catchUp: z.string(),
    paused: z.boolean(),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
    nextFireTimes: z.array(z.string().datetime()).openapi({ description: "the next fire times (none while paused)" }),
    buffered: z.string().datetime().nullable().openapi({ description: "a fire kept by buffer-one, to start next" }),
    lastFires: z.array(FireView).openapi({ description: "the last fires, newest first (GET of one schedule only)" }),
  })
  .openapi("Schedule");
export type ScheduleView = z.infer<typeof ScheduleView>;

export const ScheduleList = z
  .object({ items: z.array(ScheduleView), nextCursor: z.string().nullable() })
  .openapi("ScheduleList");

export const ListSchedulesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

export const TriggeredFire = z
  .object({ scheduleId: z.string(), fireTime: z.string().datetime(), runId: z.string(), replayed: z.boolean() })
  .openapi("TriggeredFire");

// ── events and triggers ────────────────────────────────────────────────────────

/** The largest event body accepted (413 event.too_large beyond). */
export const MAX_EVENT_BYTES = 256 * 1024;
/** A trigger's match: paths at most this deep, the whole at most 2 KiB. */
export const MAX_MATCH_DEPTH = 8;
export const MAX_MATCH_BYTES = 2048;
/** How long an event's id is remembered: the same id again within it starts nothing more. */
export const EVENT_DEDUP_MS = 24 * 3_600_000;
/** Triggers a tenant may have when its limits name none (`limits.maxTriggers`). */
export const DEFAULT_MAX_TRIGGERS = 1_000;

const EventType = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, "letters, digits, '_', '.', ':', '-'; at most 64")
  .openapi({ example: "build.completed" });

export const SendEventBody = z
  .object({
    id: z
      .string()
      .min(1)
      .max(200)
      .openapi({ description: "the sender's id: the same id within 24 h starts nothing more" }),
    type: EventType,
    data: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
  .openapi("SendEventBody");
export type SendEventBody = z.infer<typeof SendEventBody>;

export const WokenStep = z
  .object({
    runId: z.string(),
    stepId: z.string(),
    ok: z.boolean(),
    error: z.string().optional().openapi({ description: "why the step was not completed (signal.invalid_body, …)" }),
  })
  .openapi("WokenStep");
export type WokenStep = z.infer<typeof WokenStep>;

export const EventAccepted = z
  .object({
    eventId: z.string(),
    duplicate: z.boolean().openapi({ description: "the id was seen within 24 h: these are the runs it started then" }),
    runs: z.array(z.object({ triggerId: z.string(), runId: z.string().nullable(), error: z.string().optional() })),
    woke: z.array(WokenStep).openapi({
      description: "waiting signal steps whose `event` declaration matched: completed with the event's data",
    }),
  })
  .openapi("EventAccepted");
export type EventAccepted = z.infer<typeof EventAccepted>;

const Scalar = z.union([z.string().max(500), z.number(), z.boolean(), z.null()]);

export const TriggerMatch = z
  .record(z.string().min(1).max(200), Scalar)
  .default({})
  .superRefine((match, ctx) => {
    for (const path of Object.keys(match))
      if (path.split(".").length > MAX_MATCH_DEPTH)
        ctx.addIssue({ code: "custom", path: [path], message: `deeper than ${MAX_MATCH_DEPTH} levels` });
    if (JSON.stringify(match).length > MAX_MATCH_BYTES)
      ctx.addIssue({ code: "custom", message: `larger than ${MAX_MATCH_BYTES} bytes` });
  })
  .openapi({
    description: "dotted paths into the event (`data.repo`) and the values they must equal",
    example: { "data.repo": "billing" },
  });

export const CreateTriggerBody = z
  .object({ ...runFields, eventType: EventType, match: TriggerMatch })
  .strict()
  .refine(oneOfBlueprintOrSteps.check, oneOfBlueprintOrSteps.message)
  .openapi("CreateTriggerBody", {
    description:
      'the run to start for each matching event; `input` values `{"$event": "data.branch"}` take the event\'s',
  });
export type CreateTriggerBody = z.infer<typeof CreateTriggerBody>;
/** What a caller may send to create a trigger (defaults filled in by the API). */
export type CreateTriggerInput = z.input<typeof CreateTriggerBody>;

export const TriggerView = z
  .object({
    id: z.string(),
    eventType: z.string(),
    match: z.record(z.string(), z.unknown()),
    project: z.string(),
    blueprint: z.string().nullable(),
    createdAt: z.string().datetime(),
  })
  .openapi("Trigger");
export type TriggerView = z.infer<typeof TriggerView>;

export const TriggerList = z
  .object({ items: z.array(TriggerView), nextCursor: z.string().nullable() })
  .openapi("TriggerList");

// ── signal steps woken by events ─────────────────────────────────────────────

/**
 * What a run tells its tenant's automation object about a signal step that declared `event`:
 * it waits now (until `expiresAt`), or it waits no more. Sent through the run's outbox, in order;
 * each is idempotent (a watch is an upsert, an unwatch a delete).
 */
export type EventWatchOp =
  | {
      op: "watch";
      runId: string;
      stepId: string;
      name: string;
      eventType: string;
      match: Record<string, unknown>;
      expiresAt: number;
    }
  | { op: "unwatch"; runId: string; stepId: string };
