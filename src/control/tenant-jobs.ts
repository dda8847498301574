/**
 * A tenant's own job types in a run (issue 27): which names are the runtime's (reserved
 * namespaces, derived from the job catalog), and a pinned version as a job declaration the
 * resolver treats like a built-in one: its input checked against the version's JSON Schema, its
 * step on the `external` pool with the pin (pool, version, required labels, output schema) that
 * routes it to the tenant's pool object and checks its output when a worker reports. Pure.
 */
import { z } from "zod";
import { JOB_DECLARATIONS, type JobDeclaration } from "../../schema/jobs";
import { POOLS } from "../../schema/vocabulary";
import { JOB_TYPE_NAME, type JobTypeVersion, type PinnedJobType } from "../../schema/workers";
import { instanceIssues } from "../lib/json-schema";
import type { StepFlowSpec } from "../../schema/flow";

/** Namespaces of the runtime: every built-in type's, every pool's, and a few kept for what is coming. */
const RESERVED = new Set<string>([
  ...[...JOB_DECLARATIONS.keys()].map((t) => t.split(".")[0] ?? t),
  ...POOLS,
  "ai",
  "factory",
  "runtime",
  "builtin",
]);

/** The reserved namespace a job type's name is in, or null when the tenant may use it. */
export function reservedNamespace(name: string): string | null {
  const namespace = name.split(".")[0] ?? name;
  return RESERVED.has(namespace) ? namespace : null;
}

/** Whether a step's type could be one of the tenant's (not built in, and of the tenant grammar). */
export const isTenantJobType = (type: string): boolean =>
  !JOB_DECLARATIONS.has(type) && JOB_TYPE_NAME.test(type) && reservedNamespace(type) === null;

/** A step of a tenant job type, as resolved: its declaration and what the run pins. */
export interface TenantJob {
  declaration: JobDeclaration;
  pinned: PinnedJobType;
  retry: JobTypeVersion["retry"];
  /** The version's step keys (templates over a step's input): a step's own override them. */
  flow?: StepFlowSpec;
}

/** The default timeout of a tenant job type's step (the `external` pool's). */
const TENANT_TIMEOUT_MS = 600_000;

/** A pinned version as the resolver's job declaration: the JSON Schema checks the input. */
export function tenantJob(version: JobTypeVersion): TenantJob {
  const input = z.unknown().superRefine((value, ctx) => {
    for (const issue of instanceIssues(version.input, value))
      ctx.addIssue({ code: "custom", message: issue.message, path: issue.segments });
  });
  return {
    declaration: {
      type: version.name,
      pool: "external",
      description: version.description ?? "",
      input: input as z.ZodType<unknown>,
      output: z.unknown(),
      timeoutMs: version.timeoutMs ?? TENANT_TIMEOUT_MS,
    },
    pinned: {
      pool: version.pool,
      version: version.version,
      requires: version.requires.labels,
      output: version.output,
    },
    retry: version.retry,
    ...(version.concurrency || version.rateLimit
      ? {
          flow: {
            ...(version.concurrency ? { concurrency: version.concurrency } : {}),
            ...(version.rateLimit ? { rateLimit: version.rateLimit } : {}),
          },
        }
      : {}),
  };
}

/** The tenant job types a set of steps names, by name, from the versions the registry says are current. */
export function tenantJobs(versions: readonly JobTypeVersion[]): ReadonlyMap<string, TenantJob> {
  return new Map(versions.map((v) => [v.name, tenantJob(v)]));
}
