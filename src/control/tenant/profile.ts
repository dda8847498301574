/** A tenant's record (status, limits, weight) and its API keys: only hashes are kept. */
import {
  DEFAULT_LIMITS,
  DEFAULT_SCOPES,
  SCOPES,
  type ApiKey,
  type CreateKeyBody,
  type CreateTenantBody,
  type CreatedKey,
  type Limits,
  type Scope,
  type Tenant,
  type TenantStatus,
  type UpdateTenantBody,
} from "../../../schema/tenants";
import { newKeyId, newSecret, sha256Hex, timingSafeEqualHex } from "../../lib/crypto";
import { formatApiKey, keyMac } from "../../lib/keys";
import { must } from "../../lib/must";
import { all, json, one } from "../sqlite";

/** The local development tenant: created on first use of the dev key (never in production). */
export const DEV_TENANT = "dev";

export const PROFILE_MIGRATION = [
  `CREATE TABLE tenant (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, limits TEXT NOT NULL, weight INTEGER NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`,
  // Keys from before scopes existed had every scope there was then.
  `ALTER TABLE api_key ADD COLUMN scopes TEXT NOT NULL DEFAULT '${JSON.stringify(DEFAULT_SCOPES)}'`,
  `ALTER TABLE api_key ADD COLUMN expires_at INTEGER`,
];

interface TenantRow {
  id: string;
  name: string;
  status: TenantStatus;
  limits: string;
  weight: number;
  created_at: number;
  updated_at: number;
}

interface KeyRow {
  id: string;
  hash: string;
  name: string | null;
  scopes: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class TenantProfile {
  /** Every request reads the tenant (auth, quota, admission); it changes only through this class. */
  private cached: Tenant | null | undefined;

  constructor(private readonly sql: SqlStorage) {}

  private row(): TenantRow | null {
    return one<TenantRow>(this.sql, "SELECT * FROM tenant LIMIT 1");
  }

  get(): Tenant | null {
    if (this.cached === undefined) {
      const r = this.row();
      this.cached = r ? view(r) : null;
    }
    return this.cached;
  }

  /** Creates the tenant; null when this object already holds one. */
  create(id: string, body: Omit<CreateTenantBody, "id">, now: number): Tenant | null {
    if (this.row()) return null;
    const limits: Limits = { ...DEFAULT_LIMITS, ...body.limits };
    this.cached = undefined;
    this.sql.exec(
      "INSERT INTO tenant (id, name, status, limits, weight, created_at, updated_at) VALUES (?, ?, 'active', ?, ?, ?, ?)",
      id,
      body.name,
      json.write(limits),
      body.weight ?? 1,
      now,
      now,
    );
    return this.get();
  }

  update(patch: UpdateTenantBody, now: number): Tenant | null {
    const r = this.row();
    if (!r) return null;
    const limits = { ...json.read<Limits>(r.limits), ...patch.limits };
    this.cached = undefined;
    this.sql.exec(
      "UPDATE tenant SET name = ?, status = ?, limits = ?, weight = ?, updated_at = ?",
      patch.name ?? r.name,
      patch.status ?? r.status,
      json.write(limits),
      patch.weight ?? r.weight,
      now,
    );
    return this.get();
  }

  /**
   * A tenant shard's copy of its tenant's record (src/control/tenant/shards.ts), as home sent it;
   * an older copy never replaces a newer one.
   */
  mirror(tenant: Tenant): void {
    const updatedAt = Date.parse(tenant.updatedAt);
    this.cached = undefined;
    this.sql.exec(
      `INSERT INTO tenant (id, name, status, limits, weight, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status, limits = excluded.limits,
         weight = excluded.weight, updated_at = excluded.updated_at WHERE excluded.updated_at >= tenant.updated_at`,
      tenant.id,
      tenant.name,
      tenant.status,
      json.write(tenant.limits),
      tenant.weight,
      Date.parse(tenant.createdAt),
      updatedAt,
    );
  }

  /** `macKey`: KEY_MAC_KEY, when the runtime has one (the new key then carries its MAC). */
  async createKey(tenantId: string, body: CreateKeyBody, now: number, macKey?: string): Promise<CreatedKey> {
    const id = newKeyId();
    const secret = newSecret();
    const expiresAt = body.expiresAt ? Date.parse(body.expiresAt) : null;
    // Each scope once, in the catalog's order: a list that repeats one grants nothing more and
    // only makes keys that grant the same look different.
    const asked = new Set<Scope>(body.scopes ?? DEFAULT_SCOPES);
    const scopes = SCOPES.filter((s) => asked.has(s));
    this.sql.exec(
      "INSERT INTO api_key (id, hash, name, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
      id,
      await sha256Hex(secret),
      body.name ?? null,
      json.write(scopes),
      now,
      expiresAt,
    );
    return {
      ...keyView(must(this.keyRow(id), "the API key just inserted")),
      tenantId,
      key: formatApiKey({ tenantId, keyId: id, secret, ...(macKey ? { mac: keyMac(macKey, tenantId, id) } : {}) }),
    };
  }

  listKeys(): ApiKey[] {
    return all<KeyRow>(this.sql, "SELECT * FROM api_key ORDER BY created_at").map(keyView);
  }

  revokeKey(keyId: string, now: number): boolean {
    return (
      this.sql.exec("UPDATE api_key SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", now, keyId).rowsWritten > 0
    );
  }

  /** A new key with the same name and scopes; the old one works for `overlapMs` more. */
  async rotateKey(
    tenantId: string,
    keyId: string,
    overlapMs: number,
    now: number,
    macKey?: string,
  ): Promise<CreatedKey | null> {
    const old = this.keyRow(keyId);
    if (!old || old.revoked_at !== null) return null;
    const created = await this.createKey(
      tenantId,
      {
        scopes: json.read<Scope[]>(old.scopes) ?? [...DEFAULT_SCOPES],
        ...(old.name ? { name: old.name } : {}),
        ...(old.expires_at ? { expiresAt: new Date(old.expires_at).toISOString() } : {}),
      },
      now,
      macKey,
    );
    if (overlapMs === 0) this.revokeKey(keyId, now);
    else
      this.sql.exec(
        "UPDATE api_key SET expires_at = MIN(COALESCE(expires_at, ?), ?) WHERE id = ?",
        now + overlapMs,
        now + overlapMs,
        keyId,
      );
    return created;
  }

  /** The key's scopes and name when it exists, is live and the secret's hash matches (constant time). */
  verifyKey(keyId: string, secretHash: string, now: number): { scopes: Scope[]; name: string | null } | null {
    const k = this.keyRow(keyId);
    if (!k || k.revoked_at !== null || (k.expires_at !== null && k.expires_at <= now)) return null;
    return timingSafeEqualHex(k.hash, secretHash) ? { scopes: json.read<Scope[]>(k.scopes) ?? [], name: k.name } : null;
  }

  private keyRow(id: string): KeyRow | null {
    return one<KeyRow>(this.sql, "SELECT * FROM api_key WHERE id = ?", id);
  }
}

function view(r: TenantRow): Tenant {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    limits: { ...DEFAULT_LIMITS, ...json.read<Limits>(r.limits) },
    weight: r.weight,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

function keyView(k: KeyRow): ApiKey {
  return {
    id: k.id,
    name: k.name,
    scopes: json.read<Scope[]>(k.scopes) ?? [],
    createdAt: new Date(k.created_at).toISOString(),
    expiresAt: iso(k.expires_at),
    revokedAt: iso(k.revoked_at),
  };
}
