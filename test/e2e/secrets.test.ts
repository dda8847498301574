/**
 * A planted secret leaks through no surface: against a real `wrangler dev`, runs that write planted
 * secrets (blocked, and warned) are followed through every API answer, every webhook delivery
 * and everything the runtime logged; none of them holds a planted value. Also reports what the
 * scan costs the microservice blueprint's zip.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plantedSecrets } from "../../src/data/jobs/planted";
import { startDohServer, type DohServer } from "./support/doh";
import { startRuntime, waitForRun, type Runtime } from "./support/runtime";

let rt: Runtime;
let doh: DohServer;
let receiver: Server;
let receiverUrl = "";
const bodies: string[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let text = "";
    req.on("data", (d) => (text += d));
    req.on("end", () => {
      bodies.push(text);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  doh = await startDohServer({});
  rt = await startRuntime({ WEBHOOK_SCHEDULE_MS: "200,400,800", DOH_URL: doh.url });
});

afterAll(async () => {
  await rt?.stop();
  receiver?.close();
  await doh?.close();
});

const text = async (path: string, runtime: Runtime = rt) => (await runtime.fetch(path)).text();

describe("no planted secret on any surface", () => {
  it("API answers, webhook deliveries and the runtime's logs never hold a planted value", async () => {
    const hook = await rt.fetch("/v1/webhooks", { method: "POST", json: { url: receiverUrl, eventTypes: ["*"] } });
    expect(hook.status).toBe(201);
    const admin = rt.as(rt.adminToken);
    await rt.fetch("/v1/runs"); // the dev tenant exists from the dev key's first use
    expect(
      (await admin.fetch("/v1/admin/tenants/dev/scanning", { method: "PATCH", json: { projects: { warned: "warn" } } }))
        .status,
    ).toBe(200);

    const ids: string[] = [];
    for (const [project, mode] of [
      ["blocked", "zip"],
      ["warned", "zip"],
      ["warned", "plain"],
    ] as const) {
      const res = await rt.fetch("/v1/runs", {
        method: "POST",
        json: { project, steps: [{ id: "w", type: "system.secrets", input: { mode } }] },
      });
      ids.push(((await res.json()) as { id: string }).id);
    }
    const runs = await Promise.all(ids.map((id) => waitForRun(rt, id)));
    expect(runs.map((r) => r.status)).toEqual(["failed", "succeeded", "succeeded"]);

    // Every run's final event reached the receiver (deliveries follow the log in order).
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && ids.some((id) => !bodies.some((b) => b.includes(id) && b.includes('"run.')))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const delivered = bodies.map((b) => JSON.parse(b) as { type: string });
    expect(delivered.some((e) => e.type === "artifact.secret_detected")).toBe(true);
    expect(delivered.some((e) => e.type === "artifact.scanned")).toBe(true);

    const said: string[] = [...bodies];
    for (const id of ids) {
      said.push(await text(`/v1/runs/${id}`), await text(`/v1/runs/${id}/events?limit=1000`));
      said.push(await text(`/v1/runs/${id}/artifacts`), await text(`/v1/runs/${id}/usage`));
    }
    const refused = await rt.fetch(`/v1/runs/${ids[0]}/artifacts/secrets.zip`);
    expect(refused.status).toBe(409);
    said.push(await refused.text());
    said.push(await text("/v1/runs?limit=100"), await text("/v1/admin/tenants/dev/scanning/allow", admin));
    said.push(rt.output());
    const all = said.join("\n");
    for (const p of plantedSecrets()) expect(all.includes(p.secret), `${p.ruleId}'s value leaked`).toBe(false);
  });

  it("a token in a signal body and an approval comment reaches no webhook body (issue 33, finding 8)", async () => {
    const hook = await rt.fetch("/v1/webhooks", { method: "POST", json: { url: receiverUrl, eventTypes: ["*"] } });
    expect(hook.status).toBe(201);
    const github = plantedSecrets().find((p) => p.ruleId === "@secretlint/secretlint-rule-github")!;
    const res = await rt.fetch("/v1/runs", {
      method: "POST",
      json: {
        project: "told",
        steps: [
          { id: "wait", type: "signal", input: { name: "deployed" } },
          {
            id: "gate",
            type: "approval",
            input: { title: "Ship?", approvers: { allowRequester: true } },
            dependsOn: ["wait"],
          },
        ],
      },
    });
    const { id } = (await res.json()) as { id: string };
    const signal = { method: "POST", json: { token: github.secret } };
    expect((await rt.fetch(`/v1/runs/${id}/signals/deployed`, signal)).status).toBe(200);
    let decided = 0;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && decided !== 200; ) {
      const approve = { method: "POST", json: { comment: `rotated ${github.secret}` } };
      decided = (await rt.fetch(`/v1/runs/${id}/steps/gate/approve`, approve)).status;
      if (decided !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(decided).toBe(200);
    expect((await waitForRun(rt, id)).status).toBe("succeeded");
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !bodies.some((b) => b.includes(id) && b.includes('"run.succeeded"')))
      await new Promise((r) => setTimeout(r, 100));
    const mine = bodies.filter((b) => b.includes(id));
    expect(mine.some((b) => b.includes('"step.approved"') && b.includes("[REDACTED "))).toBe(true);
    const all = [...mine, await text(`/v1/runs/${id}`), await text(`/v1/runs/${id}/events?limit=1000`), rt.output()];
    expect(all.join("\n").includes(github.secret)).toBe(false);
  }, 60_000);

  it("what scanning costs the microservice blueprint's zip", async () => {
    const samples: { scanMs: number; runMs: number; bytes: number; files: number }[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await rt.fetch("/v1/runs", {
        method: "POST",
        json: { project: "cost", blueprint: "microservice", input: { name: "billing-api", resources: ["invoices"] } },
      });
      const { id } = (await res.json()) as { id: string };
      const run = await waitForRun(rt, id);
      expect(run.status).toBe("succeeded");
      const events = (
        (await (await rt.fetch(`/v1/runs/${id}/events?limit=1000`)).json()) as {
          items: { type: string; occurredAt: string; data: { durationMs?: number; bytes?: number; files?: number } }[];
        }
      ).items;
      const scanned = events.find((e) => e.type === "artifact.scanned")!;
      const runMs = Date.parse(events.at(-1)!.occurredAt) - Date.parse(events[0]!.occurredAt);
      samples.push({ scanMs: scanned.data.durationMs!, runMs, bytes: scanned.data.bytes!, files: scanned.data.files! });
    }
    // Printed for the record (docs/artifacts.md): not a benchmark, one warm local runtime.
    console.log("microservice zip scan", JSON.stringify(samples));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    expect(median(samples.map((s) => s.scanMs))).toBeLessThan(median(samples.map((s) => s.runMs)));
  }, 60_000);
});
