/**
 * The audit trail's archive (docs/audit.md): entries past the retention go to R2 under the
 * tenant's prefix, oldest first and a bounded batch at a time, before they are deleted; newer
 * entries stay; the alarm does it.
 */
import { env } from "cloudflare:workers";
import { reset, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, expect, it } from "vitest";
import type { AuditRecord } from "../../schema/audit";
import type { AuditObject } from "../../src/control/audit/object";

afterEach(() => reset());

const DAY = 86_400_000;
const entry = (id: string, at: number): AuditRecord => ({
  id,
  at,
  action: "run.cancel",
  actor: "key:k1",
  actorName: "ci",
  target: `run:run_${id}`,
  ip: "203.0.113.9",
  userAgent: "test",
  traceId: null,
});

async function archived(prefix: string): Promise<Record<string, unknown>[]> {
  const listed = await env.ARTIFACTS.list({ prefix });
  const out: Record<string, unknown>[] = [];
  for (const o of listed.objects) {
    const body = await env.ARTIFACTS.get(o.key);
    const text = await new Response(body!.body.pipeThrough(new DecompressionStream("gzip"))).text();
    out.push(
      ...text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    );
  }
  return out;
}

it("archives entries past the retention to R2, a bounded batch at a time, then deletes them", async () => {
  const stub = env.AUDIT.getByName("acme");
  const now = Date.now();
  await stub.record(entry("old1", now - 400 * DAY));
  await stub.record(entry("old2", now - 390 * DAY));
  await stub.record(entry("old3", now - 380 * DAY));
  await stub.record(entry("new1", now - 10 * DAY));

  // A batch of 2: the two oldest move, the third waits for the next batch.
  expect(await runInDurableObject(stub, (o: AuditObject) => o.archiveOld(2, now))).toBe(2);
  expect((await archived("tenants/acme/audit/")).map((e) => e.id)).toEqual(["old1", "old2"]);
  const left = await runInDurableObject(stub, (o: AuditObject) => o.query({ limit: 10 }).map((e) => e.id));
  expect(left).toEqual(["new1", "old3"]);

  // The alarm moves the rest and keeps what is within the retention.
  await runDurableObjectAlarm(stub);
  const all = await archived("tenants/acme/audit/");
  expect(all.map((e) => e.id).sort()).toEqual(["old1", "old2", "old3"]);
  expect(all[0]).toMatchObject({ action: "run.cancel", actor: "key:k1", target: "run:run_old1", ip: "203.0.113.9" });
  expect(await runInDurableObject(stub, (o: AuditObject) => o.query({ limit: 10 }).map((e) => e.id))).toEqual(["new1"]);
  // Nothing more to move: another pass archives nothing and writes no object.
  expect(await runInDurableObject(stub, (o: AuditObject) => o.archiveOld(2, now))).toBe(0);
  expect((await env.ARTIFACTS.list({ prefix: "tenants/acme/audit/" })).objects).toHaveLength(2);
});
