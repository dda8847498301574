/**
 * R2 key layout: `tenants/{tenant}/runs/{run}/steps/{step}/{attempt}/{name}`. Every segment is
 * checked against its id grammar, so no input can climb out of its tenant's prefix.
 * Keys are per attempt: a late, stale attempt writes beside the accepted one, never over it.
 */
import { NonRetryableError } from "../errors";

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export interface ArtifactScope {
  tenantId: string;
  runId: string;
  stepId: string;
  attempt: number;
}

export function isSafeSegment(value: string): boolean {
  return SEGMENT.test(value) && !value.includes("..");
}

export function artifactKey(scope: ArtifactScope, name: string): string {
  for (const [what, value] of [
    ["tenant", scope.tenantId],
    ["run", scope.runId],
    ["step", scope.stepId],
    ["artifact name", name],
  ] as const) {
    if (!isSafeSegment(value))
      throw new NonRetryableError("artifact.invalid_name", `invalid ${what}: ${JSON.stringify(value)}`);
  }
  if (!Number.isInteger(scope.attempt) || scope.attempt < 1) {
    throw new NonRetryableError("artifact.invalid_name", `invalid attempt ${scope.attempt}`);
  }
  return `tenants/${scope.tenantId}/runs/${scope.runId}/steps/${scope.stepId}/${scope.attempt}/${name}`;
}

/** Everything of one run in R2 (its artifacts and its archive) is under this prefix. */
export function runPrefix(tenantId: string, runId: string): string {
  if (!isSafeSegment(tenantId) || !isSafeSegment(runId)) throw new Error("invalid tenant or run id");
  return `tenants/${tenantId}/runs/${runId}/`;
}

/** Where an archived run's record, steps, attempts and events are kept once its object is emptied. */
export function archiveKey(tenantId: string, runId: string): string {
  return `${runPrefix(tenantId, runId)}archive.json.gz`;
}
