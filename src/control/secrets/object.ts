/**
 * The Secrets Durable Object: one per tenant (addressed by the tenant's id), holding that
 * tenant's secrets as ciphertext only (src/secrets/crypto.ts seals them in the API's Worker and
 * the consumer opens them). Apart from the tenant object on purpose: it is asked when a secret is
 * written and when a step that references one begins, never on a run's hot path otherwise.
 */
import { DurableObject } from "cloudflare:workers";
import type { SealedSecret, SecretView } from "../../../schema/secrets";
import type { Env } from "../../env";
import type { CollectorConfig } from "../../../schema/telemetry";
import { all, execIn, migratedSql, type Migration } from "../sqlite";
import * as collector from "./collector";

/** Exported for the upgrade tests (test/integration/upgrades.test.ts). */
export const MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE secret (name TEXT PRIMARY KEY, iv TEXT NOT NULL, ciphertext TEXT NOT NULL,
       created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, last_used_at INTEGER)`,
  ],
  collector.COLLECTOR_MIGRATION,
];

/** Secrets a tenant may hold. */
export const MAX_SECRETS = 200;

interface Row {
  name: string;
  iv: string;
  ciphertext: string;
  created_at: number;
  updated_at: number;
  last_used_at: number | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class SecretsObject extends DurableObject<Env> {
  private readonly sql = migratedSql(this.ctx, MIGRATIONS);

  /** Creates or replaces a secret; false when the tenant already holds the most it may. */
  put(sealed: SealedSecret): { ok: true; created: boolean } | { ok: false } {
    const now = Date.now();
    const exists = this.sql.exec("SELECT 1 FROM secret WHERE name = ?", sealed.name).toArray().length > 0;
    if (!exists && this.count() >= MAX_SECRETS) return { ok: false };
    this.sql.exec(
      `INSERT INTO secret (name, iv, ciphertext, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET iv = excluded.iv, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
      sealed.name,
      sealed.iv,
      sealed.ciphertext,
      now,
      now,
    );
    return { ok: true, created: !exists };
  }

  /** Names and times, never a value (not even its ciphertext). */
  list(): SecretView[] {
    return all<Row>(this.sql, "SELECT name, created_at, updated_at, last_used_at FROM secret ORDER BY name").map(
      (r) => ({
        name: r.name,
        createdAt: iso(r.created_at) as string,
        updatedAt: iso(r.updated_at) as string,
        lastUsedAt: iso(r.last_used_at),
      }),
    );
  }

  /** Deletes a secret; false when there was none. */
  remove(name: string): boolean {
    return this.sql.exec("DELETE FROM secret WHERE name = ?", name).rowsWritten > 0;
  }

  /** Which of `names` the tenant does not hold (run creation refuses a reference to one). */
  missing(names: readonly string[]): string[] {
    const held = new Set(
      execIn<{ name: string }>(this.sql, "SELECT name FROM secret WHERE name IN (?)", names).map((r) => r.name),
    );
    return names.filter((n) => !held.has(n));
  }

  /** The sealed values of `names` for a step that has begun, marking them used; absent ones are left out. */
  take(names: readonly string[]): SealedSecret[] {
    const rows = execIn<Row>(this.sql, "SELECT name, iv, ciphertext FROM secret WHERE name IN (?)", names);
    if (rows.length > 0) execIn(this.sql, `UPDATE secret SET last_used_at = ${Date.now()} WHERE name IN (?)`, names);
    return rows.map((r) => ({ name: r.name, iv: r.iv, ciphertext: r.ciphertext }));
  }

  /** Replaces a value sealed under the previous key by its re-sealing, unless it was written since. */
  reseal(previous: SealedSecret, next: SealedSecret): void {
    this.sql.exec(
      "UPDATE secret SET iv = ?, ciphertext = ? WHERE name = ? AND ciphertext = ?",
      next.iv,
      next.ciphertext,
      previous.name,
      previous.ciphertext,
    );
  }

  /** Deletes every secret and the collector (the tenant is being purged); idempotent. */
  forgetAll(): number {
    collector.removeCollector(this.sql);
    return this.sql.exec("DELETE FROM secret").rowsWritten;
  }

  // ── the tenant's OTLP collector (collector.ts) ──

  getCollector(): CollectorConfig | null {
    return collector.getCollector(this.sql);
  }

  setCollector(endpoint: string, headers: Record<string, string>): CollectorConfig {
    return collector.setCollector(this.sql, endpoint, headers);
  }

  removeCollector(): boolean {
    return collector.removeCollector(this.sql);
  }

  /** The collector and its headers' sealed values, for the exporter. */
  collectorTarget() {
    return collector.collectorTarget(this.sql);
  }

  private count(): number {
    return (this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM secret").one().n as number) ?? 0;
  }
}
