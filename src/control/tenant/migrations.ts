/**
 * The tenant object's schema, in order: each concern's book declares its own tables (webhooks.ts,
 * runs.ts, budgets.ts, …); this is only the sequence they were added in. Append, never edit.
 */
import type { Migration } from "../sqlite";
import { APPROVALS_MIGRATION } from "./approvals";
import { ARCHIVE_BACKFILL_MIGRATION } from "./archive-backfill";
import { ARTIFACT_VERSION_MIGRATION } from "./artifacts";
import { BUDGET_MIGRATION } from "./budgets";
import { PROFILE_MIGRATION } from "./profile";
import { PURGE_MIGRATION } from "./purge";
import { RETENTION_MIGRATION } from "./retention";
import { ARCHIVE_MIGRATION, LIVE_RUNS_MIGRATION, RUN_BOOK_MIGRATION } from "./runs";
import { RUN_AUDIT_MIGRATION } from "./run-audit";
import { SCANNING_MIGRATION } from "./scanning";
import { SEARCH_MIGRATION } from "./search";
import { SHARDS_MIGRATION } from "./shards";
import { WEBHOOK_LINKS_MIGRATION, WEBHOOK_MIGRATION } from "./webhooks";

export const TENANT_MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE run_index (
      run_id TEXT PRIMARY KEY, project TEXT NOT NULL, blueprint TEXT, status TEXT NOT NULL,
      version INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`,
    `CREATE INDEX run_index_created ON run_index (created_at DESC, run_id DESC)`,
    `CREATE TABLE idempotency (
      key TEXT PRIMARY KEY, body_hash TEXT NOT NULL, run_id TEXT NOT NULL, created_at INTEGER NOT NULL)`,
    `CREATE TABLE api_key (
      id TEXT PRIMARY KEY, hash TEXT NOT NULL, name TEXT, created_at INTEGER NOT NULL, revoked_at INTEGER)`,
  ],
  WEBHOOK_MIGRATION,
  [...PROFILE_MIGRATION, ...RUN_BOOK_MIGRATION],
  LIVE_RUNS_MIGRATION,
  [...SCANNING_MIGRATION, ...ARTIFACT_VERSION_MIGRATION],
  APPROVALS_MIGRATION,
  BUDGET_MIGRATION,
  ARCHIVE_MIGRATION,
  [...RETENTION_MIGRATION, ...PURGE_MIGRATION],
  SHARDS_MIGRATION,
  WEBHOOK_LINKS_MIGRATION,
  ARCHIVE_BACKFILL_MIGRATION,
  RUN_AUDIT_MIGRATION,
  SEARCH_MIGRATION,
];
