/**
 * A run's labels (tags and metadata) and the search over a tenant's runs (issue 28): the limits,
 * the grammars, and the filter `GET /v1/runs` accepts. The filter's parsing is pure, so the
 * API, the CLI and the dashboard read a query string the same way.
 */
import { z } from "@hono/zod-openapi";
import { RUN_STATUSES, type RunStatus } from "./vocabulary";

export const LABEL_LIMITS = { tags: 10, metadata: 16, keyBytes: 64, valueBytes: 256 } as const;

export const TAG_PATTERN = /^[a-z0-9:_-]{1,64}$/;
/** A metadata key is also a query parameter's suffix (`metadata.<key>`): a plain word. */
export const METADATA_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

const bytes = (s: string) => new TextEncoder().encode(s).length;

export const Tag = z
  .string()
  .regex(TAG_PATTERN, "a tag is 1-64 of a-z 0-9 : _ -")
  .openapi({ example: "customer:acme" });

export const Tags = z
  .array(Tag)
  .max(LABEL_LIMITS.tags, `at most ${LABEL_LIMITS.tags} tags`)
  .refine((t) => new Set(t).size === t.length, "tags repeat")
  .openapi({ description: `at most ${LABEL_LIMITS.tags} tags, each [a-z0-9:_-]{1,64}` });

export const Metadata = z
  .record(
    z.string().regex(METADATA_KEY_PATTERN, "a metadata key is 1-64 of A-Z a-z 0-9 _ . : -"),
    z
      .string()
      .refine((v) => bytes(v) <= LABEL_LIMITS.valueBytes, `a value is at most ${LABEL_LIMITS.valueBytes} bytes`),
  )
  .refine((m) => Object.keys(m).length <= LABEL_LIMITS.metadata, `at most ${LABEL_LIMITS.metadata} pairs`)
  .openapi({ description: `at most ${LABEL_LIMITS.metadata} string pairs; keys ≤ 64 bytes, values ≤ 256 bytes` });

export type Labels = { tags: string[]; metadata: Record<string, string> };

/** What a search asks for: every field optional, all of them must match. */
export interface RunFilter {
  project?: string;
  /** All must be on the run. */
  tags?: string[];
  /** Every pair must be on the run. */
  metadata?: Record<string, string>;
  blueprint?: string;
  requestedBy?: string;
  /** Any of these. */
  statuses?: RunStatus[];
  /** Epoch ms, inclusive lower and exclusive upper bounds. */
  createdAfter?: number;
  createdBefore?: number;
  finishedAfter?: number;
}

export const FILTER_FIELDS = [
  "project",
  "tag",
  "blueprint",
  "requestedBy",
  "status",
  "createdAfter",
  "createdBefore",
  "finishedAfter",
] as const;

/** The filter's wire form in a JSON body (a bulk operation's `filter`): the same fields, typed. */
export const RunFilterBody = z
  .object({
    project: z.string().min(1).max(64).optional(),
    tags: z.array(Tag).max(LABEL_LIMITS.tags).optional(),
    metadata: z.record(z.string().regex(METADATA_KEY_PATTERN), z.string().max(LABEL_LIMITS.valueBytes)).optional(),
    blueprint: z.string().min(1).max(64).optional(),
    requestedBy: z.string().min(1).max(200).optional(),
    status: z.array(z.enum(RUN_STATUSES)).max(RUN_STATUSES.length).optional(),
    createdAfter: z.string().datetime().optional(),
    createdBefore: z.string().datetime().optional(),
    finishedAfter: z.string().datetime().optional(),
  })
  .strict()
  .openapi("RunFilter");
export type RunFilterBody = z.infer<typeof RunFilterBody>;

export type FilterParse = { ok: true; filter: RunFilter } | { ok: false; path: string; message: string };

const time = (v: string): number | null => {
  if (!/^\d{4}-\d{2}-\d{2}/.test(v)) return null;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : null;
};

/** Checks what every form of the filter shares: the time range's order, the number of labels. */
function checked(filter: RunFilter): FilterParse {
  if (
    filter.createdAfter !== undefined &&
    filter.createdBefore !== undefined &&
    filter.createdAfter >= filter.createdBefore
  )
    return { ok: false, path: "createdBefore", message: "createdBefore must be after createdAfter" };
  if ((filter.tags?.length ?? 0) > LABEL_LIMITS.tags)
    return { ok: false, path: "tag", message: `at most ${LABEL_LIMITS.tags} tags` };
  if (Object.keys(filter.metadata ?? {}).length > LABEL_LIMITS.metadata)
    return { ok: false, path: "metadata", message: `at most ${LABEL_LIMITS.metadata} pairs` };
  return { ok: true, filter };
}

/** A bulk operation's filter body as the search's filter. */
export function filterFromBody(b: RunFilterBody): FilterParse {
  const f: RunFilter = {};
  for (const [field, v] of [
    ["createdAfter", b.createdAfter],
    ["createdBefore", b.createdBefore],
    ["finishedAfter", b.finishedAfter],
  ] as const) {
    if (v !== undefined) f[field] = Date.parse(v);
  }
  if (b.project) f.project = b.project;
  if (b.tags?.length) f.tags = [...new Set(b.tags)];
  if (b.metadata && Object.keys(b.metadata).length) f.metadata = b.metadata;
  if (b.blueprint) f.blueprint = b.blueprint;
  if (b.requestedBy) f.requestedBy = b.requestedBy;
  if (b.status?.length) f.statuses = [...new Set(b.status)];
  return checked(f);
}

/**
 * Reads a search from a query string's pairs (`tag` and `status` may repeat; `metadata.<key>`
 * names a pair). `cursor` and `limit` are the page's, not the filter's; anything else is refused,
 * so that a misspelt filter is an error rather than a search that matches everything.
 */
export function parseRunFilter(pairs: [string, string][]): FilterParse {
  const f: RunFilter = {};
  for (const [name, value] of pairs) {
    if (name === "cursor" || name === "limit") continue;
    if (name.startsWith("metadata.")) {
      const key = name.slice("metadata.".length);
      if (!METADATA_KEY_PATTERN.test(key)) return { ok: false, path: name, message: "not a metadata key" };
      if (bytes(value) > LABEL_LIMITS.valueBytes) return { ok: false, path: name, message: "value too long" };
      f.metadata = { ...f.metadata, [key]: value };
      continue;
    }
    const bad = (message: string): FilterParse => ({ ok: false, path: name, message });
    switch (name) {
      case "tag":
        if (!TAG_PATTERN.test(value)) return bad("a tag is 1-64 of a-z 0-9 : _ -");
        f.tags = [...new Set([...(f.tags ?? []), value])];
        break;
      case "status":
        if (!(RUN_STATUSES as readonly string[]).includes(value)) return bad(`one of ${RUN_STATUSES.join(", ")}`);
        f.statuses = [...new Set([...(f.statuses ?? []), value as RunStatus])];
        break;
      case "project":
      case "blueprint":
      case "requestedBy":
        if (value.length < 1 || value.length > 200) return bad("1-200 characters");
        f[name] = value;
        break;
      case "createdAfter":
      case "createdBefore":
      case "finishedAfter": {
        const t = time(value);
        if (t === null) return bad("an ISO 8601 time");
        f[name] = t;
        break;
      }
      default:
        return bad(`not a filter; filters: ${FILTER_FIELDS.join(", ")}, metadata.<key>`);
    }
  }
  return checked(f);
}

/** The filter as a query string's pairs (the typed client, the CLI and the dashboard's shareable URL). */
export function filterPairs(f: RunFilter): [string, string][] {
  const pairs: [string, string][] = [];
  const iso = (t: number) => new Date(t).toISOString();
  if (f.project) pairs.push(["project", f.project]);
  for (const t of f.tags ?? []) pairs.push(["tag", t]);
  for (const [k, v] of Object.entries(f.metadata ?? {})) pairs.push([`metadata.${k}`, v]);
  if (f.blueprint) pairs.push(["blueprint", f.blueprint]);
  if (f.requestedBy) pairs.push(["requestedBy", f.requestedBy]);
  for (const s of f.statuses ?? []) pairs.push(["status", s]);
  if (f.createdAfter !== undefined) pairs.push(["createdAfter", iso(f.createdAfter)]);
  if (f.createdBefore !== undefined) pairs.push(["createdBefore", iso(f.createdBefore)]);
  if (f.finishedAfter !== undefined) pairs.push(["finishedAfter", iso(f.finishedAfter)]);
  return pairs;
}

/** What a run and its summary show of its labels and its requester. */
export const RunLabelsView = {
  tags: z.array(z.string()).openapi({ description: "the run's tags (copied to a retry)" }),
  metadata: z.record(z.string(), z.string()).openapi({ description: "the run's metadata (copied to a retry)" }),
  requestedBy: z.string().nullable().openapi({
    description: "who opened the run: the API key's id, `schedule:<id>`, `trigger:<id>`, or null (unknown)",
  }),
};

const many = <T extends z.ZodTypeAny>(one: T) => z.union([one, z.array(one)]).optional();
/**
 * The search's query parameters as the OpenAPI document shows them. The handler reads the query
 * string itself with `parseRunFilter`, which also takes `metadata.<key>` and refuses other names.
 */
export const SearchQueryFields = {
  status: many(z.enum(RUN_STATUSES)).openapi({ description: "repeatable: runs in any of these statuses" }),
  tag: many(z.string().max(64)).openapi({
    description: "repeatable: runs with all of these tags. Also `metadata.<key>=<value>`: runs with that pair",
  }),
  blueprint: z.string().max(64).optional(),
  requestedBy: z.string().max(200).optional().openapi({ description: "a key's id, `schedule:<id>` or `trigger:<id>`" }),
  createdAfter: z.string().datetime().optional().openapi({ description: "inclusive" }),
  createdBefore: z.string().datetime().optional().openapi({ description: "exclusive; after createdAfter" }),
  finishedAfter: z.string().datetime().optional().openapi({ description: "inclusive" }),
};
