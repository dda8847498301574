/**
 * A step key's outbox row sent to its key's object (step-flow.ts): an acquire answered with a
 * grant comes back as one for the run to record; a release answers nothing. Both are idempotent
 * on the key's side (a ticket names the run and step, a rate token the attempt too).
 */
import type { FlowMessage, StepGrant } from "../../../schema/messages";
import type { Env } from "../../env";
import { rateStub, stepFlowStub, stepTicket } from "../flow/stub";

type StepFlowMessage = Extract<FlowMessage, { stepId: string }>;

export const isStepMessage = (m: FlowMessage): m is StepFlowMessage => "stepId" in m;

export async function sendStepFlow(
  env: Env,
  tenantId: string,
  runId: string,
  m: StepFlowMessage,
): Promise<StepGrant | null> {
  const ticket = stepTicket(runId, m.stepId);
  switch (m.op) {
    case "acquireStep": {
      const { granted } = await stepFlowStub(env, tenantId, m.key).acquire(tenantId, m.key, {
        runId: ticket,
        limit: m.limit,
        priority: m.priority,
      });
      return granted ? { stepId: m.stepId, key: m.key, kind: "concurrency", attempt: 0 } : null;
    }
    case "releaseStep":
      await stepFlowStub(env, tenantId, m.key).release(tenantId, m.key, ticket);
      return null;
    case "acquireRate": {
      const { granted, at } = await rateStub(env, tenantId, m.key).acquireRate(tenantId, m.key, {
        ticket,
        attempt: m.attempt,
        limit: m.limit,
        periodMs: m.periodMs,
        priority: m.priority,
      });
      return granted
        ? { stepId: m.stepId, key: m.key, kind: "rate", attempt: m.attempt, ...(at !== undefined ? { at } : {}) }
        : null;
    }
    case "releaseRate":
      await rateStub(env, tenantId, m.key).releaseRate(tenantId, m.key, ticket);
      return null;
  }
}
