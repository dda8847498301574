/**
 * Who may use a tenant object: an API key (or, locally, the dev key) checked against the
 * tenant's record and keys (profile.ts), its status, and its rate limit bucket. Also what an
 * object does about a key naming a tenant that does not exist: it forgets the storage that key
 * made (`forgetIfUnknown`), and a purged tenant's object answers as for no tenant (`gone`).
 */
import { type Refusal, refuse } from "../../../schema/errors";
import { SCOPES, type Scope } from "../../../schema/tenants";
import { TokenBucket } from "../../lib/token-bucket";
import type { TenantHost } from "./host";
import { DEV_TENANT, type TenantProfile } from "./profile";

/** A refusal's message is what the API shows the caller: it never says which part of a key was wrong. */
export type AuthResult =
  | {
      ok: true;
      scopes: Scope[];
      key: { id: string; name: string | null };
      /** Rate tokens granted: 1, or up to what was asked for. */
      tokens: number;
    }
  | Refusal<"auth.unauthenticated" | "tenant.suspended" | "rate.limited">;

/** What the API presents for a key: its id and the hash of its secret, or (locally) the dev key it checked. */
export type Credential = { keyId: string; secretHash: string } | { dev: true };

export class Access {
  /** In memory on purpose: an evicted object starts with a full bucket, which only errs kindly. */
  private bucket: TokenBucket | null = null;
  /** This instance made the object's schema: before it, the object held nothing (no such tenant). */
  fresh = false;
  /** Set once a purge deleted this object's storage: this instance answers as for no tenant. */
  gone = false;

  constructor(
    private readonly host: TenantHost,
    private readonly profile: TenantProfile,
  ) {}

  /**
   * An API request's key (or, locally, the dev key the Worker already checked), the tenant's
   * status, and tokens from its rate limit bucket: one, or up to `tokens` for an isolate that
   * caches the answer and spends them on its next requests (src/api/key-cache.ts).
   */
  async authenticate(presented: Credential, tokens = 1): Promise<AuthResult> {
    const result = this.check(presented, Date.now(), tokens);
    if (!result.ok) await this.forgetIfUnknown();
    return result;
  }

  /** The key check a new run's opening does itself (one object call per new run, not two): null when it passes. */
  async refusal(
    presented: Credential,
    scope: Scope,
  ): Promise<Exclude<AuthResult, { ok: true }> | Refusal<"auth.insufficient_scope"> | null> {
    const auth = this.check(presented, Date.now());
    if (!auth.ok) {
      await this.forgetIfUnknown();
      return auth;
    }
    return auth.scopes.includes(scope)
      ? null
      : refuse("auth.insufficient_scope", `This key lacks the '${scope}' scope.`);
  }

  private check(presented: Credential, now: number, tokens = 1): AuthResult {
    if (this.gone) return refuse("auth.unauthenticated");
    const tenantId = this.host.tenantId;
    let tenant = this.profile.get();
    if (!tenant && "dev" in presented && tenantId === DEV_TENANT)
      tenant = this.profile.create(DEV_TENANT, { name: "Local development" }, now);
    if (!tenant) return refuse("auth.unauthenticated");
    const verified =
      "dev" in presented
        ? { scopes: [...SCOPES], name: "dev" }
        : this.profile.verifyKey(presented.keyId, presented.secretHash, now);
    if (!verified) return refuse("auth.unauthenticated");
    const { scopes } = verified;
    const key = { id: "dev" in presented ? "dev" : presented.keyId, name: verified.name };
    if (tenant.status === "suspended") return refuse("tenant.suspended");
    this.bucket ??= new TokenBucket(tenant.limits.requestsPerMinute, now);
    const token = this.bucket.takeUpTo(Math.max(1, Math.min(tokens, 64)), tenant.limits.requestsPerMinute, now);
    if (!token.ok) return { ...refuse("rate.limited"), retryAfterMs: token.retryAfterMs };
    return { ok: true, scopes, key, tokens: token.granted };
  }

  /**
   * A key naming a tenant that does not exist made this object: its storage goes again, so a caller
   * inventing tenant ids (any well-formed key reaches its tenant's object) leaves nothing behind,
   * and a purged tenant's old key does not bring back its object's tables. The instance then
   * answers as for a purged tenant (`gone`) until it is evicted.
   */
  private async forgetIfUnknown(): Promise<void> {
    // The local development tenant is made by the dev key's first use, which may come after a bad key.
    if (!this.fresh || this.gone || this.host.tenantId === DEV_TENANT || this.profile.get() !== null) return;
    await this.host.storage.deleteAll();
    this.gone = true;
  }

  /** The object's storage goes (the end of a purge): this instance answers as for no tenant until evicted. */
  async wipe(): Promise<void> {
    await this.host.alarm.sync(null);
    await this.host.storage.deleteAll();
    this.gone = true;
  }
}
