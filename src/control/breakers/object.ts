/**
 * The Breaker Durable Object: one per external dependency, addressed by its name, holding its
 * circuit breaker's state, configuration and transitions. It is not on the hot path: a
 * consumer asks it only when a call failed, when its cached state says open and the cool-down
 * is over (a probe), and to report a probe's success. A healthy dependency costs no call here.
 *
 * The object named REGISTRY is a list of every breaker that ever changed state or was
 * configured, for the metrics and the admin view; it too is only told of transitions.
 */
import { DurableObject } from "cloudflare:workers";
import {
  BREAKER_REGISTRY,
  DEFAULT_BREAKER_CONFIG,
  type BreakerAnswer,
  type BreakerConfig,
  type BreakerStateName,
  type BreakerView,
  type CallCounts,
} from "../../../schema/breakers";
import type { Env } from "../../env";
import { migratedSql, all, json, one, type Migration } from "../sqlite";
import { admit, closedState, onCounts, onFailure, onSuccess, type BreakerState, type Change } from "./machine";

export const MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE breaker (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, config TEXT, state TEXT NOT NULL)`,
    `CREATE TABLE transition (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL, reason TEXT NOT NULL)`,
    `CREATE TABLE episode_tenant (tenant_id TEXT PRIMARY KEY)`,
    // Used by the registry object only.
    `CREATE TABLE known (name TEXT PRIMARY KEY, state TEXT NOT NULL, changed_at INTEGER NOT NULL)`,
  ],
];

/** Transitions kept per breaker. */
const KEEP_TRANSITIONS = 100;

export class BreakerObject extends DurableObject<Env> {
  private readonly sql = migratedSql(this.ctx, MIGRATIONS);
  private cached: { state: BreakerState; config: BreakerConfig | null } | undefined;

  private get name(): string {
    return this.ctx.id.name ?? "";
  }

  private load(): { state: BreakerState; config: BreakerConfig | null } {
    if (!this.cached) {
      const row = one<{ config: string | null; state: string }>(
        this.sql,
        "SELECT config, state FROM breaker WHERE id = 1",
      );
      this.cached = row
        ? { state: JSON.parse(row.state) as BreakerState, config: json.read<BreakerConfig>(row.config) }
        : { state: closedState(Date.now()), config: null };
    }
    return this.cached;
  }

  private config(): BreakerConfig {
    return this.load().config ?? DEFAULT_BREAKER_CONFIG;
  }

  private answer(extra: Partial<BreakerAnswer> = {}): BreakerAnswer {
    const { state } = this.load();
    return {
      state: state.state,
      openUntil: state.openUntil,
      consecutiveFailures: state.consecutive,
      failureThreshold: this.config().failureThreshold,
      ...extra,
    };
  }

  /** Saves the state; a change is logged, told to the registry and, as an event, to the tenants that met it. */
  private async save(next: BreakerState, change: Change | null, now: number, tenantId?: string): Promise<void> {
    const loaded = this.load();
    loaded.state = next;
    this.sql.exec(
      "INSERT INTO breaker (id, name, config, state) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state",
      this.name,
      loaded.config ? JSON.stringify(loaded.config) : null,
      JSON.stringify(next),
    );
    if (tenantId) this.sql.exec("INSERT INTO episode_tenant (tenant_id) VALUES (?) ON CONFLICT DO NOTHING", tenantId);
    if (!change) return;
    this.sql.exec(
      "INSERT INTO transition (at, from_state, to_state, reason) VALUES (?, ?, ?, ?)",
      now,
      change.from,
      change.to,
      change.reason,
    );
    this.sql.exec("DELETE FROM transition WHERE seq <= (SELECT MAX(seq) FROM transition) - ?", KEEP_TRANSITIONS);
    this.ctx.waitUntil(this.announce(change, now));
  }

  private async announce(change: Change, now: number): Promise<void> {
    await this.env.BREAKER.getByName(BREAKER_REGISTRY)
      .note(this.name, change.to, now)
      .catch(() => undefined);
    if (change.to === "half-open") return;
    const type = change.to === "open" ? "dependency.circuit_opened" : "dependency.circuit_closed";
    const tenants = all<{ tenant_id: string }>(this.sql, "SELECT tenant_id FROM episode_tenant").map(
      (r) => r.tenant_id,
    );
    if (change.to === "closed") this.sql.exec("DELETE FROM episode_tenant");
    const state = this.load().state;
    await Promise.all(
      tenants.map((tenantId) =>
        this.env.TENANT.getByName(tenantId)
          .acceptEvents([
            {
              eventId: `evt_dep_${now}_${change.to}_${this.name}`.slice(0, 200),
              type,
              runId: "",
              projectId: "",
              tenantId,
              occurredAt: new Date(now).toISOString(),
              data: {
                dependency: this.name,
                from: change.from,
                to: change.to,
                reason: change.reason,
                openUntil: state.openUntil === null ? null : new Date(state.openUntil).toISOString(),
              },
            } as never,
          ])
          .catch(() => undefined),
      ),
    );
  }

  /** A call failed: answers the state after it (open: the caller holds its step rather than fail it). */
  async failure(tenantId?: string): Promise<BreakerAnswer> {
    const now = Date.now();
    const { next, change } = onFailure(this.load().state, this.config(), now);
    await this.save(next, change, now, tenantId);
    return this.answer();
  }

  /**
   * An isolate's counted calls (at most one report a second per isolate and breaker, sooner when
   * failures in a row near the threshold): answers the state after them, with the window's counts.
   */
  async record(counts: CallCounts, tenantId?: string): Promise<BreakerAnswer> {
    const now = Date.now();
    const { next, change } = onCounts(this.load().state, this.config(), now, counts);
    if (next !== this.load().state) await this.save(next, change, now, counts.failures > 0 ? tenantId : undefined);
    const { requests, failures } = this.load().state;
    return this.answer({ requests, failures });
  }

  /** A call succeeded where the caller's cached state was not closed, or counted failures. */
  async success(): Promise<BreakerAnswer> {
    const now = Date.now();
    const { next, change } = onSuccess(this.load().state, this.config(), now);
    if (next !== this.load().state) await this.save(next, change, now);
    return this.answer();
  }

  /** May a call go out? Asked only when the caller's cached state is not closed. */
  async admit(tenantId?: string): Promise<BreakerAnswer> {
    const now = Date.now();
    const { next, change, admission } = admit(this.load().state, this.config(), now);
    if (next !== this.load().state || tenantId) await this.save(next, change, now, tenantId);
    return this.answer(admission.allow ? { allow: true } : { allow: false, retryAfterMs: admission.retryAfterMs });
  }

  async configure(config: BreakerConfig): Promise<BreakerView> {
    const loaded = this.load();
    loaded.config = config;
    this.sql.exec(
      "INSERT INTO breaker (id, name, config, state) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET config = excluded.config",
      this.name,
      JSON.stringify(config),
      JSON.stringify(loaded.state),
    );
    await this.env.BREAKER.getByName(BREAKER_REGISTRY).note(this.name, loaded.state.state, Date.now());
    return this.view();
  }

  async view(): Promise<BreakerView> {
    const { state } = this.load();
    return {
      name: this.name,
      state: state.state,
      openUntil: state.openUntil === null ? null : new Date(state.openUntil).toISOString(),
      consecutiveFailures: state.consecutive,
      config: this.config(),
      transitions: all<{ at: number; from_state: BreakerStateName; to_state: BreakerStateName; reason: string }>(
        this.sql,
        "SELECT at, from_state, to_state, reason FROM transition ORDER BY seq DESC LIMIT 20",
      ).map((t) => ({ from: t.from_state, to: t.to_state, at: new Date(t.at).toISOString(), reason: t.reason })),
    };
  }

  // ── the registry (the object named BREAKER_REGISTRY) ─────────────────────────

  async note(name: string, state: BreakerStateName, at: number): Promise<void> {
    this.sql.exec(
      "INSERT INTO known (name, state, changed_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at",
      name,
      state,
      at,
    );
  }

  /** Every breaker the registry knows, each asked for its view (bounded). */
  async list(limit = 200): Promise<BreakerView[]> {
    const names = all<{ name: string }>(this.sql, "SELECT name FROM known ORDER BY name LIMIT ?", limit).map(
      (r) => r.name,
    );
    return Promise.all(names.map((n) => this.env.BREAKER.getByName(n).view()));
  }
}
