/**
 * Approval decisions, received signals and redeemed decision links. Their tables are made by the
 * first write a run needs them for, so a run without gates has none: no statements, and no pages
 * of storage (every table costs a few KiB even empty, billed for as long as the run is kept).
 * The writes go straight to SQLite inside the object's transaction (rolled back with it).
 */
import type { Decider, GateDecision } from "../../../schema/run";
import type { Json } from "../../../schema/api";
import { json } from "../sqlite";

export interface DecisionRow {
  step_id: string;
  decision: GateDecision;
  by: string;
  comment: string | null;
  decided_at: number;
}

export interface SignalRow {
  name: string;
  body: string;
  by: string;
  received_at: number;
}

/** Made together, on first use (see above). */
const GATE_TABLES = [
  `CREATE TABLE decision (
      step_id TEXT PRIMARY KEY, decision TEXT NOT NULL, by TEXT NOT NULL, comment TEXT, decided_at INTEGER NOT NULL)`,
  `CREATE TABLE signal (name TEXT PRIMARY KEY, body TEXT NOT NULL, by TEXT NOT NULL, received_at INTEGER NOT NULL)`,
  `CREATE TABLE used_link (id TEXT PRIMARY KEY, step_id TEXT NOT NULL, used_at INTEGER NOT NULL)`,
].join(";\n");

export class GateTable {
  /** Whether the tables exist; unknown until asked, once per object lifetime. */
  private made: boolean | undefined;

  constructor(private readonly sql: SqlStorage) {}

  /** Forgets what it knows: a rolled-back transaction may have made the tables and unmade them. */
  forget(): void {
    this.made = undefined;
  }

  private exists(): boolean {
    this.made ??=
      this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'decision'").toArray().length > 0;
    return this.made;
  }

  private make(): void {
    if (this.exists()) return;
    this.sql.exec(GATE_TABLES);
    this.made = true;
  }

  decision(stepId: string): DecisionRow | null {
    if (!this.exists()) return null;
    return (
      this.sql
        .exec<DecisionRow & Record<string, SqlStorageValue>>("SELECT * FROM decision WHERE step_id = ?", stepId)
        .toArray()[0] ?? null
    );
  }

  decisions(): DecisionRow[] {
    if (!this.exists()) return [];
    return this.sql.exec<DecisionRow & Record<string, SqlStorageValue>>("SELECT * FROM decision").toArray();
  }

  recordDecision(stepId: string, decision: GateDecision, by: Decider, comment: string | null, at: number): void {
    this.make();
    this.sql.exec(
      "INSERT INTO decision (step_id, decision, by, comment, decided_at) VALUES (?, ?, ?, ?, ?)",
      stepId,
      decision,
      json.write(by),
      comment,
      at,
    );
  }

  signal(name: string): SignalRow | null {
    if (!this.exists()) return null;
    return (
      this.sql
        .exec<SignalRow & Record<string, SqlStorageValue>>("SELECT * FROM signal WHERE name = ?", name)
        .toArray()[0] ?? null
    );
  }

  /** Each received signal's name and the bytes of its body, as stored. */
  signalSizes(): { name: string; bytes: number }[] {
    if (!this.exists()) return [];
    return this.sql
      .exec<{ name: string; bytes: number }>("SELECT name, length(CAST(body AS BLOB)) AS bytes FROM signal")
      .toArray();
  }

  recordSignal(name: string, body: Json, by: Decider, at: number): void {
    this.make();
    this.sql.exec(
      "INSERT INTO signal (name, body, by, received_at) VALUES (?, ?, ?, ?)",
      name,
      json.write(body),
      json.write(by),
      at,
    );
  }

  /** Every row of the gate tables, by table (none for a run without gates): what an archive keeps. */
  dump(): Record<string, Record<string, SqlStorageValue>[]> {
    if (!this.exists()) return {};
    return Object.fromEntries(
      ["decision", "signal", "used_link"].map((t) => [t, this.sql.exec(`SELECT * FROM ${t}`).toArray()]),
    );
  }

  linkUsed(linkId: string): boolean {
    if (!this.exists()) return false;
    return this.sql.exec("SELECT 1 FROM used_link WHERE id = ?", linkId).toArray().length > 0;
  }

  useLink(linkId: string, stepId: string, at: number): void {
    this.make();
    this.sql.exec("INSERT INTO used_link (id, step_id, used_at) VALUES (?, ?, ?)", linkId, stepId, at);
  }
}
