/**
 * A tenant's own OTLP collector (docs/telemetry.md): its endpoint and, per header, the name of the
 * secret holding the value. Kept in the tenant's Secrets object, beside the secrets its headers
 * name, so the exporter gets the endpoint and the sealed values in one call; the tenant's object
 * (every run calls it) carries nothing of it.
 */
import type { SealedSecret } from "../../../schema/secrets";
import type { CollectorConfig } from "../../../schema/telemetry";
import { execIn, type Migration, one } from "../sqlite";

/** Appended to the Secrets object's chain (object.ts). One row, id 1. */
export const COLLECTOR_MIGRATION: Migration = [
  `CREATE TABLE collector (id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL, headers TEXT NOT NULL,
     updated_at INTEGER NOT NULL)`,
];

interface Row {
  endpoint: string;
  headers: string;
  updated_at: number;
}

export function getCollector(sql: SqlStorage): CollectorConfig | null {
  const row = one<Row>(sql, "SELECT endpoint, headers, updated_at FROM collector WHERE id = 1");
  return row
    ? { endpoint: row.endpoint, headers: JSON.parse(row.headers) as Record<string, string>, updatedAt: row.updated_at }
    : null;
}

export function setCollector(sql: SqlStorage, endpoint: string, headers: Record<string, string>): CollectorConfig {
  const now = Date.now();
  sql.exec(
    `INSERT INTO collector (id, endpoint, headers, updated_at) VALUES (1, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET endpoint = excluded.endpoint, headers = excluded.headers, updated_at = excluded.updated_at`,
    endpoint,
    JSON.stringify(headers),
    now,
  );
  return { endpoint, headers, updatedAt: now };
}

export function removeCollector(sql: SqlStorage): boolean {
  return sql.exec("DELETE FROM collector").rowsWritten > 0; // every row: there is only ever id 1
}

/** The collector with its headers' sealed values (a header whose secret is gone is left out), or null. */
export function collectorTarget(
  sql: SqlStorage,
): { endpoint: string; headers: { header: string; sealed: SealedSecret }[] } | null {
  const config = getCollector(sql);
  if (!config) return null;
  const names = [...new Set(Object.values(config.headers))];
  const sealed = new Map(
    execIn<SealedSecret>(sql, "SELECT name, iv, ciphertext FROM secret WHERE name IN (?)", names).map((s) => [
      s.name,
      { name: s.name, iv: s.iv, ciphertext: s.ciphertext },
    ]),
  );
  const headers = Object.entries(config.headers).flatMap(([header, name]) => {
    const s = sealed.get(name);
    return s ? [{ header, sealed: s }] : [];
  });
  return { endpoint: config.endpoint, headers };
}
