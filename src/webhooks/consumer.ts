/**
 * The webhooks queue consumer: makes each due delivery's attempt and records it with the tenant
 * (and plans an "events" message, which runs sent before they handed events to the tenant). Retries are the tenant object's timers, not
 * queue retries; a message is retried only when the tenant object cannot be reached.
 */
import { WebhookMessage } from "../../schema/webhooks";
import type { Env } from "../env";
import type { DeliveryTask } from "../../schema/webhooks";
import { urlGuard } from "../outbound/guard";
import { attemptTimeoutMs } from "./config";
import { attemptDelivery } from "./deliver";
import { withDecisionLinks } from "./links";
import { logError } from "../lib/log";

export async function consumeWebhooks(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  await Promise.allSettled(batch.messages.map((m) => consumeOne(m, env)));
}

async function consumeOne(message: Message<unknown>, env: Env): Promise<void> {
  const parsed = WebhookMessage.safeParse(message.body);
  if (!parsed.success) {
    logError("webhooks.invalid_message", { messageId: message.id });
    message.ack();
    return;
  }
  const m = parsed.data;
  const tenant = env.TENANT.getByName(m.tenantId);
  try {
    let tasks: DeliveryTask[];
    if (m.kind === "events") {
      const events = m.events as { eventId: string; type: string; runId: string; projectId: string }[];
      tasks = await tenant.planDeliveries(events);
    } else {
      const task = await tenant.deliveryTask(m.deliveryId);
      tasks = task ? [task] : [];
    }
    const options = { timeoutMs: attemptTimeoutMs(env), guard: urlGuard(env) };
    await Promise.all(
      tasks.map(async (task) => {
        const result = await attemptDelivery(withDecisionLinks(task, env, Date.now()), options);
        await tenant.recordDelivery(task.deliveryId, result);
      }),
    );
    message.ack();
  } catch (err) {
    // The tenant object could not be reached: anything planned has a timer there and will be
    // tried again by its alarm; the message itself is retried to plan what was not.
    logError("webhooks.consume_failed", { tenantId: m.tenantId, error: String(err) });
    message.retry();
  }
}
