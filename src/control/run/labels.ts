/**
 * A run's labels (tags and metadata, issue 28) as its row keeps them, and what its tenant's run
 * index searches it by. A run with neither keeps null: an unlabelled run costs nothing more.
 */
import type { RunOrigin } from "../../../schema/api";
import type { NewRun, RunSearchFields } from "../../../schema/run";
import type { Labels } from "../../../schema/search";
import { json } from "../sqlite";
import type { RunRow } from "./rows";

export function labelsColumn(spec: Pick<NewRun, "tags" | "metadata">): string | null {
  const tags = spec.tags ?? [];
  const metadata = spec.metadata ?? {};
  if (tags.length === 0 && Object.keys(metadata).length === 0) return null;
  return json.write({ tags, metadata } satisfies Labels);
}

export function labelsOf(r: Pick<RunRow, "labels">): Labels {
  return json.read<Labels>(r.labels) ?? { tags: [], metadata: {} };
}

/**
 * Who opened the run, as the API shows it and the index searches it: `key:<id>` for an API key, or the
 * schedule or trigger that fired it (they open runs without a key).
 */
export function requesterOf(
  requestedBy: string | null | undefined,
  origin: RunOrigin | null | undefined,
): string | null {
  // The run row keeps a key's bare id (its gates compare it); everything else names actors `kind:id`.
  if (requestedBy) return requestedBy.includes(":") ? requestedBy : `key:${requestedBy}`;
  if (origin?.kind === "schedule" && origin.id) return `schedule:${origin.id}`;
  if (origin?.kind === "event") return `trigger:${origin.triggerId ?? origin.id ?? "unknown"}`;
  return null;
}

export function searchFields(r: RunRow): RunSearchFields {
  const { tags, metadata } = labelsOf(r);
  return {
    requestedBy: requesterOf(r.requested_by, json.read<RunOrigin>(r.origin)),
    ...(tags.length ? { tags } : {}),
    ...(Object.keys(metadata).length ? { metadata } : {}),
  };
}
