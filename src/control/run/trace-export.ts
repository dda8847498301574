/**
 * Exporting a finished run's trace from its outbox (docs/telemetry.md). The outbox row is written
 * with the run's end, in its transaction; the spans are rebuilt from the run's records at each
 * try (spans.ts: same ids every time), so a kill loses none and a retry duplicates no span id.
 * A failed export is retried with exponential backoff (kept in memory: an evicted object only
 * tries sooner) and dropped after TELEMETRY_GIVE_UP_MS, counted in the log as `telemetry.dropped`,
 * so a collector that is down never holds more than one row per finished run, and never a run.
 */
import { numberVar, type Env } from "../../env";
import { logError, logWarn } from "../../lib/log";
import { parseOtlpHeaders, postSpans } from "../../telemetry/otlp";
import type { OutboxRow } from "./rows";
import { runSpans } from "./spans";
import type { RunStore } from "./store";

const DEFAULT_GIVE_UP_MS = 6 * 3_600_000;
const MAX_BACKOFF_MS = 300_000;
const MAX_EVENTS = 100_000;

/** Runs whose export failed in this isolate: tries so far and when the next may go. */
const backoff = new Map<string, { tries: number; next: number }>();

/** What became of the run's telemetry rows: `sent` (delivered, or given up), `complete` false to come back. */
export async function exportTrace(
  store: RunStore,
  env: Env,
  rows: OutboxRow[],
  now: number,
): Promise<{ sent: number[]; complete: boolean }> {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const run = store.existingRun();
  if (!endpoint) return { sent: rows.map((r) => r.id), complete: true };
  const wait = backoff.get(run.id);
  if (wait && wait.next > now) return { sent: [], complete: false };
  try {
    const spans = await runSpans(run, store.steps(), store.events(0, MAX_EVENTS));
    await postSpans(endpoint, parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS), spans);
    backoff.delete(run.id);

    return { sent: rows.map((r) => r.id), complete: true };
  } catch (err) {
    const since = Math.min(...rows.map((r) => (JSON.parse(r.body) as { at: number }).at));
    if (now - since > numberVar(env.TELEMETRY_GIVE_UP_MS, DEFAULT_GIVE_UP_MS)) {
      backoff.delete(run.id);
      logError("telemetry.dropped", { runId: run.id, traceId: run.trace_id, error: String(err) });
      return { sent: rows.map((r) => r.id), complete: true };
    }
    const tries = (wait?.tries ?? 0) + 1;
    backoff.set(run.id, { tries, next: now + Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** tries) });
    if (backoff.size > 10_000) backoff.delete(backoff.keys().next().value as string);
    logWarn("telemetry.export_failed", { runId: run.id, tries, error: String(err) });
    return { sent: [], complete: false };
  }
}
