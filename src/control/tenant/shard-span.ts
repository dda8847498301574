/**
 * Home's record of how many shards its tenant ever had (./shards.ts): readers of the run index ask
 * that many, so runs opened on a shard before `shards` was lowered are still listed and counted.
 * Read once per object lifetime; it only grows.
 */
import { all } from "../sqlite";

export class ShardSpan {
  private cached: number | undefined;

  constructor(private readonly sql: SqlStorage) {}

  high(): number {
    this.cached ??= all<{ high: number }>(this.sql, "SELECT high FROM shard_span WHERE id = 0")[0]?.high ?? 1;
    return this.cached;
  }

  raise(n: number): void {
    if (n <= this.high()) return;
    this.sql.exec(
      "INSERT INTO shard_span (id, high) VALUES (0, ?) ON CONFLICT (id) DO UPDATE SET high = MAX(high, excluded.high)",
      n,
    );
    this.cached = n;
  }
}
