/**
 * Decision links in a webhook delivery: added at send time, for an endpoint a key holding
 * approvals:grant flagged (`includeDecisionLinks`), to the `step.waiting` payload of a gate that
 * has links. They are never stored: not in the run's events (readable with runs:read) and not in
 * the delivery log (readable with webhooks:manage). A gate whose run that same key created gets
 * none, unless the gate allows its requester: a key cannot route its own gate's links to itself.
 */
import type { DeliveryTask } from "../../schema/webhooks";
import { decisionLinks } from "../lib/decision-links";

interface WaitingPayload {
  type?: unknown;
  tenantId?: unknown;
  runId?: unknown;
  stepId?: unknown;
  data?: { kind?: unknown; links?: unknown; requestedBy?: unknown; expiresAt?: unknown };
}

/** The task with its gate's links in the payload it will sign, or the task unchanged. */
export function withDecisionLinks(
  task: DeliveryTask,
  env: { DECISION_LINK_SECRET?: string; PUBLIC_URL?: string },
  now: number,
): DeliveryTask {
  const secret = env.DECISION_LINK_SECRET;
  if (!task.linksFor || !secret) return task;
  const event = JSON.parse(task.payload) as WaitingPayload;
  const data = event.data;
  const expiresAt = typeof data?.expiresAt === "string" ? Date.parse(data.expiresAt) : Number.NaN;
  const fits =
    event.type === "step.waiting" &&
    data?.kind === "approval" &&
    data.links === true &&
    data.requestedBy !== task.linksFor &&
    typeof event.tenantId === "string" &&
    typeof event.runId === "string" &&
    typeof event.stepId === "string" &&
    expiresAt > now;
  if (!fits) return task;
  const links = decisionLinks(secret, env.PUBLIC_URL ?? "", {
    tenantId: event.tenantId as string,
    runId: event.runId as string,
    stepId: event.stepId as string,
    expiresAt,
    issuedTo: task.linksFor,
  });
  return { ...task, payload: JSON.stringify({ ...event, data: { ...data, ...links } }) };
}
