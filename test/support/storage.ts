/** What a Durable Object holds, read inside it, and waiting for a state the runtime reaches by itself. */
import { runInDurableObject } from "cloudflare:test";

/** The tables an object's SQLite database holds (SQLite's and the platform's own excepted): [] once emptied. */
export async function tablesIn(stub: DurableObjectStub): Promise<string[]> {
  return runInDurableObject(stub, (_object, state) =>
    state.storage.sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
      )
      .toArray()
      .map((r) => r.name),
  );
}

/** Polls `probe` every 100 ms until it answers something other than null; fails after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 20_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 100))) {
    const found = await probe();
    if (found !== null) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}
