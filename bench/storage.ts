/**
 * What a run leaves on disk: the size of a finished one-step run's SQLite database while it is
 * still hot (before its archival), read from `wrangler dev`'s local state, where each Run object
 * is one SQLite file. Billed per GB-month for as long as the run stays hot (docs/capacity.md).
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { startRuntime } from "../test/e2e/support/runtime.ts";
import { benchTenantKey, runtimeSystem } from "./systems.ts";

/**
 * A database's size once its write-ahead log is folded in (pages × page size: what the object's
 * `databaseSize` reports), read from a copy so the running runtime's files are never touched.
 */
function databaseBytes(file: string): number {
  const dir = mkdtempSync(join(tmpdir(), "factory-db-"));
  try {
    const copy = join(dir, "run.sqlite");
    copyFileSync(file, copy);
    if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${copy}-wal`);
    const db = new DatabaseSync(copy, { readOnly: true });
    try {
      const pages = db.prepare("PRAGMA page_count").get() as { page_count: number };
      const size = db.prepare("PRAGMA page_size").get() as { page_size: number };
      return pages.page_count * size.page_size;
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each Run object's database (`<id>.sqlite`; `metadata.sqlite` is the runtime's own). */
function runDatabases(stateDir: string): string[] {
  const root = join(stateDir, "v3", "do");
  return readdirSync(root)
    .filter((d) => d.endsWith("-RunObject"))
    .flatMap((d) =>
      readdirSync(join(root, d))
        .filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite")
        .map((f) => join(root, d, f)),
    );
}

/** Runs one one-step run on a fresh runtime and measures its object's database once it has ended. */
export async function measureRunStorage(): Promise<{ hotOneStepRunDbBytes: number }> {
  const rt = await startRuntime({ ENVIRONMENT: "development" });
  try {
    const system = runtimeSystem(rt, await benchTenantKey(rt));
    const id = await system.submit({ kind: "chain", steps: 1 });
    for (let i = 0; i < 600 && !(await system.state(id)).terminal; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 3_000)); // its last webhook batch and tenant sync
    const databases = runDatabases(rt.stateDir);
    if (databases.length !== 1) throw new Error(`expected one run object's database, found ${databases.length}`);
    return { hotOneStepRunDbBytes: databaseBytes(databases[0] as string) };
  } finally {
    await rt.stop();
  }
}
