/**
 * Exporting a finished run's trace from its outbox (docs/telemetry.md). The run's end writes one
 * outbox row per collector — the deployment's (`OTEL_EXPORTER_OTLP_ENDPOINT`) and, for a run
 * created while its tenant had one, the tenant's own (`to: "tenant"`) — in its transaction; the
 * spans are rebuilt from the run's records at each try (spans.ts: same ids every time), so a kill
 * loses none and a retry duplicates no span id. Each collector's rows are sent, retried and
 * dropped on their own: one that is down holds neither the run nor the other collector.
 *
 * A failed try is retried with exponential backoff; each try is bounded by
 * TELEMETRY_TIMEOUT_MS (a hanging collector costs that, not the outbox's pass). An export is
 * dropped — a `telemetry.dropped` point and a log line — when it waited past
 * TELEMETRY_GIVE_UP_MS, when more than TELEMETRY_MAX_BACKLOG newer exports wait on the same
 * collector (oldest first, ../../telemetry/backlog.ts), or when the tenant removed its collector.
 */
import { encodePoint, writePoints } from "../../analytics/points";
import { numberVar, type Env } from "../../env";
import { logError, logWarn } from "../../lib/log";
import { guardUrl, urlGuard } from "../../outbound/guard";
import { open } from "../../secrets/crypto";
import { ExportBacklog } from "../../telemetry/backlog";
import { parseOtlpHeaders, postSpans } from "../../telemetry/otlp";
import type { OutboxRow } from "./rows";
import { runSpans } from "./spans";
import type { RunStore } from "./store";

const DEFAULT_GIVE_UP_MS = 6 * 3_600_000;
const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_BACKLOG = 1_000;
const MAX_EVENTS = 100_000;

/** Exports waiting on each collector in this isolate. */
const backlog = new ExportBacklog();
/**
 * Exports under way in this isolate: the object's two outbox lanes (and its alarm) may each pick
 * up the same row while a try hangs; one try at a time, or one failure would count twice.
 */
const inFlight = new Set<string>();

type Destination = "deployment" | "tenant";
interface Target {
  endpoint: string;
  headers: Record<string, string>;
}
type Outcome = { sent: number[]; complete: boolean };

const destinationOf = (row: OutboxRow): Destination =>
  (JSON.parse(row.body) as { to?: string }).to === "tenant" ? "tenant" : "deployment";
const endedAt = (rows: OutboxRow[]) => Math.min(...rows.map((r) => (JSON.parse(r.body) as { at: number }).at));

/** What became of the run's telemetry rows: `sent` (delivered, or dropped), `complete` false to come back. */
export async function exportTrace(store: RunStore, env: Env, rows: OutboxRow[], now: number): Promise<Outcome> {
  const out: Outcome = { sent: [], complete: true };
  for (const to of ["deployment", "tenant"] as const) {
    const mine = rows.filter((r) => destinationOf(r) === to);
    if (mine.length === 0) continue;
    const done = await exportTo(store, env, to, mine, now);
    out.sent.push(...done.sent);
    out.complete &&= done.complete;
  }
  return out;
}

async function exportTo(store: RunStore, env: Env, to: Destination, rows: OutboxRow[], now: number): Promise<Outcome> {
  const run = store.existingRun();
  const all = rows.map((r) => r.id);
  const exportKey = `${run.id}|${to}`;
  const drop = (collector: string, reason: "backlog" | "expired" | "gone", error?: string): Outcome => {
    backlog.done(collector, exportKey);
    const ageMs = now - endedAt(rows);
    logError("telemetry.dropped", { runId: run.id, traceId: run.trace_id, collector: to, reason, ageMs, error });
    writePoints(env.ANALYTICS, [
      encodePoint("telemetry.dropped", run.tenant_id, { collector: to, reason, runId: run.id, spans: 0, ageMs }),
    ]);
    return { sent: all, complete: true };
  };
  const collectorKey = to === "tenant" ? `tenant:${run.tenant_id}` : "deployment";
  if (backlog.takeDoomed(exportKey)) return drop(collectorKey, "backlog");
  if (!backlog.due(collectorKey, exportKey, now) || inFlight.has(exportKey)) return { sent: [], complete: false };
  inFlight.add(exportKey);
  try {
    const target = to === "tenant" ? await tenantTarget(env, run.tenant_id) : deploymentTarget(env);
    // No collector (any more): the deployment's was unset, or the tenant removed its own.
    if (!target) return to === "tenant" ? drop(collectorKey, "gone") : { sent: all, complete: true };
    const spans = await runSpans(run, store.steps(), store.events(0, MAX_EVENTS));
    await postSpans(target.endpoint, target.headers, spans, numberVar(env.TELEMETRY_TIMEOUT_MS, DEFAULT_TIMEOUT_MS));
    backlog.done(collectorKey, exportKey);
    return { sent: all, complete: true };
  } catch (err) {
    if (now - endedAt(rows) > numberVar(env.TELEMETRY_GIVE_UP_MS, DEFAULT_GIVE_UP_MS))
      return drop(collectorKey, "expired", String(err));
    const max = numberVar(env.TELEMETRY_MAX_BACKLOG, DEFAULT_MAX_BACKLOG);
    const tries = backlog.failed(collectorKey, exportKey, endedAt(rows), now, max);
    logWarn("telemetry.export_failed", { runId: run.id, collector: to, tries, error: String(err) });
    return { sent: [], complete: false };
  } finally {
    inFlight.delete(exportKey);
  }
}

function deploymentTarget(env: Env): Target | null {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return endpoint ? { endpoint, headers: parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS) } : null;
}

/**
 * The tenant's collector, its header values opened. Its URL is checked again at each export, as
 * a webhook's is at each delivery: a name that resolved to a public address when it was set may
 * not any more.
 */
async function tenantTarget(env: Env, tenantId: string): Promise<Target | null> {
  const found = await env.SECRETS.getByName(tenantId).collectorTarget();
  if (!found) return null;
  const checked = await guardUrl(found.endpoint, urlGuard(env));
  if (!checked.ok) throw new Error(`the collector's URL is refused: ${checked.reason}`);
  const headers: Record<string, string> = {};
  for (const h of found.headers) headers[h.header] = (await open(env, tenantId, h.sealed)).value;
  return { endpoint: checked.url.href, headers };
}
