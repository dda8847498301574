/** Helpers for integration tests: call the Worker through its real fetch entry point. */
import { env, exports } from "cloudflare:workers";
import type { RunView } from "../../schema/api";

export const DEV_KEY = env.DEV_API_KEY!;
export const ADMIN_TOKEN = env.ADMIN_TOKEN!;

export async function api(
  path: string,
  init: RequestInit & { key?: string | null; json?: unknown } = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  const key = init.key === undefined ? DEV_KEY : init.key;
  if (key) headers.set("authorization", `Bearer ${key}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.json);
  }
  return exports.default.fetch(new Request(`http://runtime.test${path}`, { ...init, headers, body }));
}

export async function createRun(json: unknown, key?: string): Promise<RunView> {
  const res = await api("/v1/runs", { method: "POST", json, ...(key ? { key } : {}) });
  if (res.status !== 202) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as RunView;
}

export type LoggedEvent = {
  type: string;
  stepId?: string;
  seq: number;
  eventId: string;
  tenantId: string;
  data: Record<string, unknown>;
};

/** The run's whole event log. */
export async function events(runId: string, key?: string): Promise<LoggedEvent[]> {
  const res = await api(`/v1/runs/${runId}/events?limit=1000`, key ? { key } : {});
  return ((await res.json()) as { items: LoggedEvent[] }).items;
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/** Polls until the run is terminal (or the deadline passes) and returns it. */
export async function waitForRun(id: string, opts: { key?: string; timeoutMs?: number } = {}): Promise<RunView> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  for (;;) {
    const res = await api(`/v1/runs/${id}`, opts.key ? { key: opts.key } : {});
    const run = (await res.json()) as RunView;
    if (TERMINAL.has(run.status)) return run;
    if (Date.now() > deadline)
      throw new Error(`run ${id} still ${run.status}: ${JSON.stringify(run.steps.map((s) => [s.id, s.status]))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A key for `tenantId`, creating the tenant first if need be. */
export async function newTenantKey(tenantId: string, body: Record<string, unknown> = {}): Promise<string> {
  const tenant = await api("/v1/admin/tenants", {
    method: "POST",
    key: ADMIN_TOKEN,
    json: { id: tenantId, name: tenantId },
  });
  if (tenant.status !== 201 && tenant.status !== 409)
    throw new Error(`tenant failed: ${tenant.status} ${await tenant.text()}`);
  const res = await api(`/v1/admin/tenants/${tenantId}/keys`, { method: "POST", key: ADMIN_TOKEN, json: body });
  if (res.status !== 201) throw new Error(`key failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { key: string }).key;
}
