/**
 * The Run DO's SQLite schema (its ordered migrations) and the typed rows of its tables. The store
 * (store.ts) reads and writes them; the engine, the views and analytics see these shapes.
 */
import type { EventType, FailurePolicy, PoolName, Priority, RunStatus, StepStatus } from "../../../schema/vocabulary";
import type { ArtifactStatus } from "../../../schema/scanning";
import { rebuildTable, upgradeOnly, type Migration } from "../sqlite";

export type { OutboxKind, OutboxRow } from "./outbox-table";
export type { TimerKind, TimerRow } from "./timers";

const UP_TO_V10: readonly Migration[] = [
  [
    `CREATE TABLE run (
      id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, project TEXT NOT NULL, blueprint TEXT,
      status TEXT NOT NULL, trace_id TEXT NOT NULL, error TEXT,
      created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, deadline_at INTEGER)`,
    `CREATE TABLE step (
      id TEXT PRIMARY KEY, position INTEGER NOT NULL, type TEXT NOT NULL, pool TEXT NOT NULL,
      input TEXT NOT NULL, depends_on TEXT NOT NULL, pending_deps INTEGER NOT NULL,
      status TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
      max_attempts INTEGER NOT NULL, timeout_ms INTEGER NOT NULL,
      output TEXT, error TEXT, queued_at INTEGER, started_at INTEGER, finished_at INTEGER)`,
    `CREATE INDEX step_status ON step (status)`,
    `CREATE TABLE edge (dep_id TEXT NOT NULL, step_id TEXT NOT NULL, PRIMARY KEY (dep_id, step_id))`,
    `CREATE TABLE attempt (
      step_id TEXT NOT NULL, attempt INTEGER NOT NULL, status TEXT NOT NULL,
      dispatched_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, error TEXT,
      PRIMARY KEY (step_id, attempt))`,
    `CREATE TABLE event (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, step_id TEXT,
      occurred_at INTEGER NOT NULL, data TEXT NOT NULL)`,
    // One row per deadline; the DO's single alarm is always set to the earliest.
    `CREATE TABLE timer (
      kind TEXT NOT NULL, ref TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0, due_at INTEGER NOT NULL,
      PRIMARY KEY (kind, ref))`,
    `CREATE INDEX timer_due ON timer (due_at)`,
    // Written in the same transaction as the state change; deleted once sent.
    `CREATE TABLE outbox (
      id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, pool TEXT, body TEXT NOT NULL)`,
    `CREATE TABLE artifact (
      name TEXT PRIMARY KEY, step_id TEXT NOT NULL, attempt INTEGER NOT NULL, r2_key TEXT NOT NULL,
      size INTEGER NOT NULL, content_type TEXT NOT NULL, sha256 TEXT NOT NULL, created_at INTEGER NOT NULL)`,
  ],
  // v2: retry policy and heartbeats per step; failure policy and retry lineage per run.
  [
    `ALTER TABLE step ADD COLUMN initial_delay_ms INTEGER NOT NULL DEFAULT 1000`,
    `ALTER TABLE step ADD COLUMN max_delay_ms INTEGER NOT NULL DEFAULT 300000`,
    `ALTER TABLE step ADD COLUMN heartbeat_timeout_ms INTEGER`,
    `ALTER TABLE step ADD COLUMN depth INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE attempt ADD COLUMN usage TEXT`,
    `ALTER TABLE step ADD COLUMN spawned_by TEXT`,
    `ALTER TABLE run ADD COLUMN failure_policy TEXT NOT NULL DEFAULT 'fail-fast'`,
    `ALTER TABLE run ADD COLUMN retry_of TEXT`,
    `ALTER TABLE run ADD COLUMN retried_as TEXT`,
    `ALTER TABLE run ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal'`,
  ],
  // v3: secret scanning. The run keeps the policy and allow list it was created under; each
  // artifact its status and scan (findings: rule, file, line, fingerprint — never the secret).
  [
    `ALTER TABLE run ADD COLUMN scanning TEXT`,
    `ALTER TABLE artifact ADD COLUMN status TEXT NOT NULL DEFAULT 'generated'`,
    `ALTER TABLE artifact ADD COLUMN scan TEXT`,
    `ALTER TABLE artifact ADD COLUMN input_sha256 TEXT`,
  ],
  // v4: dispatches of a step held by an open circuit breaker (they are not lost messages).
  [`ALTER TABLE step ADD COLUMN holds INTEGER NOT NULL DEFAULT 0`],
  // v5: indexes that cost more rows written than they saved reads (rows written are the bill,
  // docs/capacity.md). Timers are kept in memory (timers.ts) and never queried by due time; steps
  // are looked up by status only to start, resume, cancel or skip (a scan of at most 1,000 rows),
  // while every status change rewrote the index.
  [`DROP INDEX IF EXISTS timer_due`, `DROP INDEX IF EXISTS step_status`],
  // v6: the run's retention (JSON of RunRetention): when it is archived to R2 and its object emptied.
  [`ALTER TABLE run ADD COLUMN retention TEXT`],
  // v7: the tenant shard that indexed the run (src/control/tenant/shards.ts): its status syncs go there.
  [`ALTER TABLE run ADD COLUMN tenant_shard INTEGER NOT NULL DEFAULT 0`],
  // v8: the key that created the run, which by default may not decide its gates (docs/security.md).
  [`ALTER TABLE run ADD COLUMN requested_by TEXT`],
  // v9: what started the run (JSON of RunOrigin; null: the API, or a retry named by retry_of).
  [`ALTER TABLE run ADD COLUMN origin TEXT`],
  // v10: the run's tags and metadata (JSON of Labels; null: none), shown on the run and its events (issue 28).
  [`ALTER TABLE run ADD COLUMN labels TEXT`],
];

const withoutRowid = (ddl: string) => `${ddl} WITHOUT ROWID`;
const withoutAutoincrement = (ddl: string) => ddl.replace(" AUTOINCREMENT", "");

export const RUN_MIGRATIONS: readonly Migration[] = [
  ...UP_TO_V10,
  // v11: fewer rows written per step (issue 29; rows written are the bill, docs/performance.md).
  // A table keyed by anything but its rowid wrote each new row twice, to the table and to its
  // primary key's index: WITHOUT ROWID keeps the row in the key's b-tree. AUTOINCREMENT wrote
  // sqlite_sequence on every insert: event seqs and outbox ids are assigned by the store
  // (event-log.ts, outbox-table.ts), and events are never deleted, so the sequence guarded nothing.
  [
    ...rebuildTable(UP_TO_V10, "step", withoutRowid),
    ...rebuildTable(UP_TO_V10, "attempt", withoutRowid),
    ...rebuildTable(UP_TO_V10, "timer", withoutRowid),
    // The edge table is made on first use (lazy-tables.ts): an object made without one gets an
    // empty one to rebuild, as an object made before lazy tables has.
    upgradeOnly(
      `CREATE TABLE IF NOT EXISTS edge (dep_id TEXT NOT NULL, step_id TEXT NOT NULL, PRIMARY KEY (dep_id, step_id))`,
    ),
    ...rebuildTable(UP_TO_V10, "edge", withoutRowid),
    ...rebuildTable(UP_TO_V10, "event", withoutAutoincrement),
    ...rebuildTable(UP_TO_V10, "outbox", withoutAutoincrement),
  ],
  // v12: the run's flow-control keys and what it holds of them (JSON of RunFlow, flow-gate.ts; null: none).
  [`ALTER TABLE run ADD COLUMN flow TEXT`],
  // v13: the tenant had its own OTLP collector when the run was created (docs/telemetry.md).
  [`ALTER TABLE run ADD COLUMN collector INTEGER NOT NULL DEFAULT 0`],
  // v14: a step of a tenant job type: the version the run pinned, its pool, required labels and
  // output schema (JSON of PinnedJobType; null for a built-in type, so built-in runs write nothing more).
  [`ALTER TABLE step ADD COLUMN worker TEXT`],
  // v15: a step's concurrency and rate keys and what it holds of them (JSON of StepFlowState,
  // step-flow.ts; null for a step without keys, so such steps write nothing more).
  [`ALTER TABLE step ADD COLUMN flow TEXT`],
];

export interface RunRow {
  id: string;
  tenant_id: string;
  project: string;
  blueprint: string | null;
  status: RunStatus;
  trace_id: string;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  deadline_at: number | null;
  failure_policy: FailurePolicy;
  priority: Priority;
  retry_of: string | null;
  retried_as: string | null;
  /** JSON of RunScanning; null for a run created before scanning (scanned under the default). */
  scanning: string | null;
  /** JSON of RunRetention; null for a run created before retention (archived under the defaults). */
  retention: string | null;
  /** JSON of RunOrigin: a schedule or an event started the run; null for the API or a retry. */
  origin: string | null;
  /** The tenant shard whose run index holds this run (0: the tenant's own object). */
  tenant_shard: number;
  /** The id of the API key that created the run; null before v8, or for a run made without a key. */
  requested_by: string | null;
  /** JSON of Labels (schema/search.ts); null for a run with no tags and no metadata. */
  labels: string | null;
  /** JSON of RunFlow (flow-gate.ts): its concurrency keys, those granted, the one it waits for; null: none. */
  flow: string | null;
  /** 1: the run's spans also go to its tenant's own collector. */
  collector: number;
}

export interface StepRow {
  id: string;
  position: number;
  type: string;
  pool: PoolName;
  input: string;
  depends_on: string;
  pending_deps: number;
  status: StepStatus;
  attempt: number;
  failures: number;
  /** Attempts that met an open circuit breaker and were held (not failures, not lost messages). */
  holds: number;
  max_attempts: number;
  initial_delay_ms: number;
  max_delay_ms: number;
  timeout_ms: number;
  heartbeat_timeout_ms: number | null;
  /** 0 for the run's own steps; a spawned step is one deeper than the step that spawned it. */
  depth: number;
  spawned_by: string | null;
  /** JSON of PinnedJobType for a tenant job type's step; null for a built-in type. */
  worker: string | null;
  /** JSON of StepFlowState (step-flow.ts); null: the step has no keys. */
  flow: string | null;
  output: string | null;
  error: string | null;
  queued_at: number | null;
  started_at: number | null;
  finished_at: number | null;
}

export interface EventRow {
  seq: number;
  type: EventType;
  step_id: string | null;
  occurred_at: number;
  data: string;
}

export interface ArtifactRow {
  name: string;
  step_id: string;
  attempt: number;
  r2_key: string;
  size: number;
  content_type: string;
  sha256: string;
  created_at: number;
  status: ArtifactStatus;
  /** JSON of ArtifactScan; null when written before scanning. */
  scan: string | null;
  input_sha256: string | null;
}

/** The events that end an attempt or a run: what analytics reports. */
export const ENDINGS = [
  "step.succeeded",
  "step.failed",
  "step.retrying",
  "run.succeeded",
  "run.failed",
  "run.cancelled",
] as const satisfies readonly EventType[];

export const ENDING_TYPES: ReadonlySet<EventType> = new Set(ENDINGS);

export interface EndingRow {
  seq: number;
  type: (typeof ENDINGS)[number];
  step_id: string | null;
  occurred_at: number;
  pool: string | null;
  step_type: string | null;
  attempt: number | null;
  dispatched_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  usage: string | null;
  error_code: string | null;
  artifact_bytes: number;
}
