/**
 * Structured logs: one JSON object per line, with the ids that tie a line to a tenant, a run, a
 * step attempt and a trace, so Workers Logs can filter on them. Only what needs a person's
 * attention is logged; a run's own story is its event log.
 */
export interface LogFields {
  tenantId?: string;
  runId?: string;
  stepId?: string;
  attempt?: number;
  traceId?: string;
  [field: string]: unknown;
}

export function logError(msg: string, fields: LogFields = {}): void {
  console.error(JSON.stringify({ level: "error", msg, ...fields }));
}

export function logWarn(msg: string, fields: LogFields = {}): void {
  console.warn(JSON.stringify({ level: "warn", msg, ...fields }));
}
