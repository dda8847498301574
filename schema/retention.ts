/**
 * Contracts of data retention: how long a tenant's finished runs stay hot in their objects, how
 * long their archives and their artifacts are kept, and what a run is told of it when it is made.
 *
 * A run's life: running → finished → (after `runHotSeconds`) archived to R2, its object emptied →
 * (after `archiveSeconds` more) deleted with its index row. Unpublished artifacts (failed or
 * superseded attempts, rejected or unpublished outputs) go `unpublishedArtifactSeconds` after the
 * run finished; a published version goes `supersededArtifactSeconds` after a newer version
 * replaced it, unless it is pinned.
 */
import { z } from "@hono/zod-openapi";
import { ProjectId } from "./api";

const HOUR = 3_600;
const DAY = 24 * HOUR;

/** The shortest period an operator may set; development lowers it (RETENTION_MIN_SECONDS) so tests archive in seconds. */
export const RETENTION_MIN_SECONDS = HOUR;
/** The longest: ten years. */
export const RETENTION_MAX_SECONDS = 10 * 365 * DAY;

export const RETENTION_DEFAULTS = {
  runHotSeconds: 7 * DAY,
  archiveSeconds: 90 * DAY,
  unpublishedArtifactSeconds: 7 * DAY,
  supersededArtifactSeconds: 90 * DAY,
} as const satisfies RetentionPeriods;

/** A period in whole seconds; its lower bound is checked against the deployment's minimum, not here. */
const Seconds = z.number().int().positive().max(RETENTION_MAX_SECONDS);

export const RetentionPeriods = z
  .object({
    runHotSeconds: Seconds.openapi({
      description: "how long a finished run's full state stays in its object before it is archived to R2",
    }),
    archiveSeconds: Seconds.openapi({ description: "how long an archived run's archive is kept, from its archival" }),
    unpublishedArtifactSeconds: Seconds.openapi({
      description:
        "how long artifacts no published version holds (failed or superseded attempts, rejected or unpublished outputs) are kept after their run finished",
    }),
    supersededArtifactSeconds: Seconds.openapi({
      description: "how long a published version is kept after a newer version superseded it, unless pinned",
    }),
  })
  .strict()
  .openapi("RetentionPeriods");
export type RetentionPeriods = z.infer<typeof RetentionPeriods>;

/** What an operator sets: the tenant's periods (defaults for any left out) and per-project overrides. */
export const RetentionPolicy = RetentionPeriods.partial()
  .extend({
    projects: z
      .record(ProjectId, RetentionPeriods.partial().strict())
      .refine((p) => Object.keys(p).length <= 100, { message: "at most 100 projects" })
      .optional()
      .openapi({ description: "periods of single projects; a period left out is the tenant's" }),
  })
  .strict()
  .openapi("RetentionPolicy");
export type RetentionPolicy = z.infer<typeof RetentionPolicy>;

/** The periods that apply to one run, in milliseconds, fixed when the tenant opens it. */
export interface RunRetention {
  hotMs: number;
  archiveMs: number;
  unpublishedMs: number;
}

/** What `GET /v1/retention` and the admin's `PUT` answer: the periods in force, tenant-wide and per project. */
export const RetentionSettings = z
  .object({
    policy: RetentionPeriods.openapi({ description: "the tenant's periods (defaults filled in)" }),
    projects: z
      .record(ProjectId, RetentionPeriods)
      .openapi({ description: "projects with overrides: their periods in force (the tenant's where not overridden)" }),
    defaults: RetentionPeriods.openapi({ description: "the platform's defaults" }),
    minSeconds: z.number().int().openapi({ description: "the shortest period this deployment accepts" }),
  })
  .openapi("RetentionSettings");
export type RetentionSettings = z.infer<typeof RetentionSettings>;

/** Periods shorter than `minSeconds` (the deployment's minimum) as field errors; empty when all are within bounds. */
export function retentionTooShort(policy: RetentionPolicy, minSeconds: number): { path: string; message: string }[] {
  const errors: { path: string; message: string }[] = [];
  const check = (periods: Partial<RetentionPeriods>, prefix: string) => {
    for (const [field, seconds] of Object.entries(periods))
      if (typeof seconds === "number" && seconds < minSeconds)
        errors.push({ path: `${prefix}${field}`, message: `must be at least ${minSeconds} seconds` });
  };
  const { projects, ...tenant } = policy;
  check(tenant, "");
  for (const [project, periods] of Object.entries(projects ?? {})) check(periods, `projects.${project}.`);
  return errors;
}
