/**
 * Approval decisions, received signals and redeemed decision links (tables of migration v3).
 * Only a run with gates reads or writes them, so a run without any pays nothing; the writes go
 * straight to SQLite inside the object's transaction (rolled back with it).
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

export class GateTable {
  constructor(private readonly sql: SqlStorage) {}

  decision(stepId: string): DecisionRow | null {
    return (
      this.sql
        .exec<DecisionRow & Record<string, SqlStorageValue>>("SELECT * FROM decision WHERE step_id = ?", stepId)
        .toArray()[0] ?? null
    );
  }

  decisions(): DecisionRow[] {
    return this.sql.exec<DecisionRow & Record<string, SqlStorageValue>>("SELECT * FROM decision").toArray();
  }

  recordDecision(stepId: string, decision: GateDecision, by: Decider, comment: string | null, at: number): void {
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
    return (
      this.sql
        .exec<SignalRow & Record<string, SqlStorageValue>>("SELECT * FROM signal WHERE name = ?", name)
        .toArray()[0] ?? null
    );
  }

  recordSignal(name: string, body: Json, by: Decider, at: number): void {
    this.sql.exec(
      "INSERT INTO signal (name, body, by, received_at) VALUES (?, ?, ?, ?)",
      name,
      json.write(body),
      json.write(by),
      at,
    );
  }

  linkUsed(linkId: string): boolean {
    return this.sql.exec("SELECT 1 FROM used_link WHERE id = ?", linkId).toArray().length > 0;
  }

  useLink(linkId: string, stepId: string, at: number): void {
    this.sql.exec("INSERT INTO used_link (id, step_id, used_at) VALUES (?, ?, ?)", linkId, stepId, at);
  }
}
