/** The Worker's entry points: HTTPS API (fetch) and data plane (queue). Exports the DO classes. */
import { createApp } from "./api/app";
import { consumeBatch } from "./data/consumer";
import type { Env } from "./env";
import { WEBHOOK_QUEUES } from "./webhooks/config";
import { consumeWebhooks } from "./webhooks/consumer";

export { RunObject } from "./control/run/object";
export { TenantObject } from "./control/tenant/object";
export { PoolObject } from "./control/pool/object";
export { DirectoryObject } from "./control/directory/object";
export { BreakerObject } from "./control/breakers/object";
export { AutomationObject } from "./control/automation/object";
export { SecretsObject } from "./control/secrets/object";
export { AuditObject } from "./control/audit/object";
export { OperationsObject } from "./control/operations/object";
export { FlowObject } from "./control/flow/object";
export { DebounceObject } from "./control/debounce/object";
export { WorkersObject } from "./control/workers/object";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  queue: (batch, env) =>
    (WEBHOOK_QUEUES as readonly string[]).includes(batch.queue)
      ? consumeWebhooks(batch, env)
      : consumeBatch(batch, env),
} satisfies ExportedHandler<Env>;
