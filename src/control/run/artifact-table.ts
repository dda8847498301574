/** The run's artifact manifest: each accepted attempt's outputs in R2, by name. */
import type { ArtifactRow } from "./rows";
import type { RunSql } from "./store-sql";

export class ArtifactTable {
  constructor(
    private readonly q: RunSql,
    /** Told of every insert: what the run used counts its artifacts' bytes. */
    private readonly changed: () => void,
  ) {}

  get(name: string): ArtifactRow | null {
    if (!this.q.tables.has("artifact")) return null;
    return this.q.one<ArtifactRow>("SELECT * FROM artifact WHERE name = ?", name);
  }

  all(): ArtifactRow[] {
    if (!this.q.tables.has("artifact")) return [];
    return this.q.all<ArtifactRow>("SELECT * FROM artifact ORDER BY created_at, name");
  }

  insert(a: ArtifactRow): void {
    this.changed();
    this.q.tables.make("artifact");
    this.q.exec(
      "INSERT INTO artifact (name, step_id, attempt, r2_key, size, content_type, sha256, created_at, status, scan, input_sha256) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
      a.name,
      a.step_id,
      a.attempt,
      a.r2_key,
      a.size,
      a.content_type,
      a.sha256,
      a.created_at,
      a.status,
      a.scan,
      a.input_sha256,
    );
  }
}
