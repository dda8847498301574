import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { TimerTable } from "../../src/control/run/timers";

/** A run object's timer table as SQLite holds it (not as the mirror remembers it). */
const stored = (sql: SqlStorage) =>
  sql.exec("SELECT kind, ref, attempt, due_at FROM timer ORDER BY kind, ref").toArray();

it("a lease passed from one step to the next is one row written, and SQLite holds what the mirror holds", async () => {
  await runInDurableObject(env.RUN.getByName("timer-table-moves"), (_o, state) => {
    const sql = state.storage.sql;
    sql.exec(
      "CREATE TABLE timer (kind TEXT NOT NULL, ref TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0, due_at INTEGER NOT NULL, PRIMARY KEY (kind, ref)) WITHOUT ROWID",
    );
    const timers = new TimerTable(sql);
    timers.startEmpty();
    const written = (work: () => void) => {
      let rows = 0; // summed over the flush's statements, each cursor its own
      const exec = sql.exec.bind(sql);
      (sql as { exec: SqlStorage["exec"] }).exec = ((q: string, ...p: unknown[]) => {
        const c = exec(q, ...p);
        rows += c.rowsWritten;
        return c;
      }) as SqlStorage["exec"];
      try {
        work();
        timers.flush();
      } finally {
        (sql as { exec: SqlStorage["exec"] }).exec = exec;
      }
      return rows;
    };

    expect(written(() => timers.set("lease", "a", 100, 1))).toBe(1);
    // The step that ended gives its lease to the step begun: one UPDATE of the row's key.
    expect(
      written(() => {
        timers.clear("lease", "a");
        timers.set("lease", "b", 200, 1);
      }),
    ).toBe(1);
    expect(stored(sql)).toEqual([{ kind: "lease", ref: "b", attempt: 1, due_at: 200 }]);

    // A row set and cleared within one transaction never reached SQLite: nothing to move, the new row is inserted.
    written(() => {
      timers.set("lease", "c", 300, 1);
      timers.clear("lease", "c");
      timers.set("lease", "d", 400, 2);
    });
    // An update of a stored row is not a move: the cleared row of another kind is deleted.
    written(() => {
      timers.set("outbox", "flush", 50);
    });
    written(() => {
      timers.clear("outbox", "flush");
      timers.set("lease", "b", 250, 1);
    });
    const expected = [
      { kind: "lease", ref: "b", attempt: 1, due_at: 250 },
      { kind: "lease", ref: "d", attempt: 2, due_at: 400 },
    ];
    expect(stored(sql)).toEqual(expected);

    // A fresh mirror (after a rollback, or a new lifetime) reads back exactly that.
    timers.forget();
    expect([timers.get("lease", "b"), timers.get("lease", "d"), timers.get("outbox", "flush")]).toEqual([
      expected[0],
      expected[1],
      null,
    ]);
    // And moves from what it read.
    expect(
      written(() => {
        timers.clear("lease", "d");
        timers.set("lease", "e", 500, 1);
      }),
    ).toBe(1);
    expect(stored(sql)).toEqual([expected[0], { kind: "lease", ref: "e", attempt: 1, due_at: 500 }]);
  });
});
