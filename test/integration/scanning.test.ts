/**
 * Secret scanning end to end: planted secrets fail their step with artifact.secret_detected and
 * cannot be downloaded; warn keeps and flags; an allow list accepts reviewed findings; external
 * workers' uploads are scanned too; the four blueprints scan clean; and no planted value appears
 * in any answer, event or log of the run.
 */
import { reset } from "cloudflare:test";
import { strToU8, zipSync } from "fflate";
import { afterEach, describe, expect, it } from "vitest";
import { plantedSecrets } from "../../src/data/jobs/planted";
import { ADMIN_TOKEN, api, createRun, events, newTenantKey, waitForRun } from "../support/api";
import { join, zipOf } from "../support/zip";

afterEach(() => reset());

type Finding = { ruleId: string; file: string; line: number; column: number; fingerprint: string; accepted: boolean };
type ArtifactItem = {
  name: string;
  status: string;
  flagged: boolean;
  scan: { state: string; files: number; findings: Finding[]; findingsCount: number } | null;
};

const planted = plantedSecrets();

async function artifacts(runId: string, key?: string): Promise<ArtifactItem[]> {
  const res = await api(`/v1/runs/${runId}/artifacts`, key ? { key } : {});
  return ((await res.json()) as { items: ArtifactItem[] }).items;
}

const admin = (path: string, init: RequestInit & { json?: unknown } = {}) =>
  api(`/v1/admin/tenants/${path}`, { key: ADMIN_TOKEN, ...init });

/** Every text the run answers with: the run, its events, its artifacts, and the given extra bodies. */
async function everythingSaid(runId: string, extra: string[] = []): Promise<string> {
  const bodies = [
    await (await api(`/v1/runs/${runId}`)).text(),
    await (await api(`/v1/runs/${runId}/events?limit=1000`)).text(),
    await (await api(`/v1/runs/${runId}/artifacts`)).text(),
    await (await api(`/v1/runs/${runId}/usage`)).text(),
    ...extra,
  ];
  return bodies.join("\n");
}

function expectNoPlantedValue(text: string) {
  for (const p of planted) expect(text.includes(p.secret), `${p.ruleId}'s secret leaked`).toBe(false);
}

describe("the block policy (the default)", () => {
  it("a planted zip fails its step with artifact.secret_detected, is listed rejected, and answers 409", async () => {
    const run = await createRun({ project: "leaky", steps: [{ id: "w", type: "system.secrets", input: {} }] });
    const done = await waitForRun(run.id);
    expect(done.status).toBe("failed");
    const step = done.steps[0]!;
    expect(step.status).toBe("failed");
    expect(step.attempts).toBe(1); // non-retryable
    expect(step.error?.code).toBe("artifact.secret_detected");
    expect(step.error?.message).toContain("@secretlint/secretlint-rule-aws at fixture/config/aws.env:3");

    const [zip] = await artifacts(run.id);
    expect(zip).toMatchObject({ name: "secrets.zip", status: "rejected", flagged: false });
    expect(zip!.scan!.files).toBe(planted.length);
    for (const p of planted)
      expect(
        zip!.scan!.findings.some((f) => f.ruleId === p.ruleId && f.file === `fixture/${p.file}`),
        p.ruleId,
      ).toBe(true);

    const download = await api(`/v1/runs/${run.id}/artifacts/secrets.zip`);
    expect(download.status).toBe(409);
    expect(download.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await download.json()) as { code: string; findings: Finding[] };
    expect(problem.code).toBe("artifact.rejected");
    expect(problem.findings.length).toBe(zip!.scan!.findingsCount);

    const log = await events(run.id);
    const scanned = log.find((e) => e.type === "artifact.scanned")!;
    expect(scanned.data).toMatchObject({ name: "secrets.zip", status: "rejected", files: planted.length });
    expect(scanned.data.findings).toBe(zip!.scan!.findingsCount);
    expect(typeof scanned.data.durationMs).toBe("number");
    const detected = log.find((e) => e.type === "artifact.secret_detected")!;
    const aws = (detected.data.findings as Finding[]).find((f) => f.ruleId === "@secretlint/secretlint-rule-aws")!;
    expect(aws).toMatchObject({ file: "fixture/config/aws.env", line: 3, column: 19 });
    expect(log.some((e) => e.type === "artifact.created")).toBe(false);

    // Another tenant cannot even learn that it exists.
    const other = await newTenantKey("scan-other");
    expect((await api(`/v1/runs/${run.id}/artifacts/secrets.zip`, { key: other })).status).toBe(404);

    expectNoPlantedValue(await everythingSaid(run.id, [JSON.stringify(problem)]));
  });

  it("plain artifacts are scanned too: the first planted file already fails the step", async () => {
    const run = await createRun({
      project: "leaky",
      steps: [{ id: "w", type: "system.secrets", input: { mode: "plain" } }],
    });
    const done = await waitForRun(run.id);
    expect(done.steps[0]!.error?.code).toBe("artifact.secret_detected");
    const items = await artifacts(run.id);
    expect(items.map((a) => [a.name, a.status])).toEqual([["planted-0.txt", "rejected"]]);
    expectNoPlantedValue(await everythingSaid(run.id));
  });
});

describe("the warn policy, per project", () => {
  it("keeps and flags every artifact, with each rule family's finding in its metadata and events", async () => {
    await api("/v1/runs"); // the dev tenant comes into being on the dev key's first use
    const set = await admin("dev/scanning", { method: "PATCH", json: { projects: { lenient: "warn" } } });
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ policy: "block", projects: { lenient: "warn" } });

    const run = await createRun({
      project: "lenient",
      steps: [{ id: "w", type: "system.secrets", input: { mode: "plain" } }],
    });
    const done = await waitForRun(run.id);
    expect(done.status).toBe("succeeded");
    const items = await artifacts(run.id);
    expect(items).toHaveLength(planted.length);
    for (const [i, p] of planted.entries()) {
      const a = items.find((x) => x.name === `planted-${i}.txt`)!;
      expect(a.status, p.ruleId).toBe("published");
      expect(a.flagged).toBe(true);
      expect(a.scan!.findings.map((f) => f.ruleId)).toContain(p.ruleId);
      expect((await api(`/v1/runs/${run.id}/artifacts/planted-${i}.txt`)).status).toBe(200);
    }
    const log = await events(run.id);
    expect(log.filter((e) => e.type === "artifact.secret_detected")).toHaveLength(planted.length);
    expectNoPlantedValue(await everythingSaid(run.id));

    // Another project of the same tenant still blocks.
    const strict = await createRun({ project: "strict", steps: [{ id: "w", type: "system.secrets", input: {} }] });
    expect((await waitForRun(strict.id)).status).toBe("failed");
  });
});

describe("the allow list", () => {
  it("accepting each reviewed fingerprint lets the next run of that project through, and is audited", async () => {
    const first = await createRun({ project: "reviewed", steps: [{ id: "w", type: "system.secrets", input: {} }] });
    await waitForRun(first.id);
    const findings = (await artifacts(first.id))[0]!.scan!.findings;
    for (const f of findings) {
      const res = await admin("dev/scanning/allow", {
        method: "POST",
        json: { project: "reviewed", fingerprint: f.fingerprint, reason: `fixture value in ${f.file}` },
      });
      expect(res.status).toBe(201);
    }
    const second = await createRun({ project: "reviewed", steps: [{ id: "w", type: "system.secrets", input: {} }] });
    expect((await waitForRun(second.id)).status).toBe("succeeded");
    const [zip] = await artifacts(second.id);
    expect(zip).toMatchObject({ status: "published", flagged: false });
    expect(zip!.scan!.findings.every((f) => f.accepted)).toBe(true);

    // Fingerprints are per project: the same values block elsewhere.
    const elsewhere = await createRun({ project: "other", steps: [{ id: "w", type: "system.secrets", input: {} }] });
    expect((await waitForRun(elsewhere.id)).status).toBe("failed");

    const list = (await (await admin("dev/scanning/allow?project=reviewed")).json()) as {
      items: { fingerprint: string; reason: string }[];
      audit: { action: string; project: string; detail: string }[];
    };
    expect(list.items).toHaveLength(new Set(findings.map((f) => f.fingerprint)).size);
    expect(list.audit.filter((a) => a.action === "allow.add")).toHaveLength(findings.length);
    const gone = await admin(`dev/scanning/allow/reviewed/${findings[0]!.fingerprint}`, { method: "DELETE" });
    expect(gone.status).toBe(204);
    const again = await admin(`dev/scanning/allow/reviewed/${findings[0]!.fingerprint}`, { method: "DELETE" });
    expect(((await again.json()) as { code: string }).code).toBe("scan.fingerprint_not_found");
  });

  it("bad input is a problem with a stable code and changes nothing", async () => {
    const before = await (await admin("dev/scanning")).json();
    for (const json of [{ policy: "maybe" }, { projects: { "../x": "warn" } }, { policy: "warn", extra: 1 }]) {
      const res = await admin("dev/scanning", { method: "PATCH", json });
      expect(res.status, JSON.stringify(json)).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe("request.invalid");
    }
    for (const json of [
      { project: "p", fingerprint: "AKIA-not-a-fingerprint", reason: "x" },
      { project: "p", fingerprint: `fp_${"0".repeat(32)}` },
    ]) {
      const res = await admin("dev/scanning/allow", { method: "POST", json });
      expect(res.status).toBe(400);
    }
    expect(await (await admin("dev/scanning")).json()).toEqual(before);
    expect((await admin("no-such-tenant/scanning")).status).toBe(404);
    expect((await api("/v1/admin/tenants/dev/scanning")).status).toBe(401); // a tenant key is not the admin token
  });
});

describe("clean outputs", () => {
  it("the four blueprints' outputs scan clean and are published", async () => {
    const inputs: [string, Record<string, unknown>][] = [
      ["microservice", { name: "billing-api", resources: ["invoices", "customers"] }],
      ["library", { name: "strings-lib" }],
      ["saas-starter", { name: "acme-saas" }],
      ["pipeline", { name: "ci-api" }],
    ];
    for (const [blueprint, input] of inputs) {
      const run = await createRun({ project: "clean", blueprint, input });
      const done = await waitForRun(run.id, { timeoutMs: 30_000 });
      expect(done.status, `${blueprint}: ${JSON.stringify(done.steps.map((s) => s.error))}`).toBe("succeeded");
      for (const a of await artifacts(run.id)) {
        expect(a.scan!.findings, `${blueprint}: ${a.name}`).toEqual([]);
        expect(a.scan!.state).toBe("complete");
        expect(a.status).toBe("published");
      }
      const log = await events(run.id);
      expect(
        log.some((e) => e.type === "artifact.scanned"),
        blueprint,
      ).toBe(true);
      expect(
        log.some((e) => e.type === "artifact.secret_detected"),
        blueprint,
      ).toBe(false);
    }
  }, 90_000);
});

describe("external workers' artifacts", () => {
  it("are scanned before the result is recorded: a planted upload fails the step and its bytes are gone", async () => {
    const tokenRes = await api("/v1/admin/pools/external/tokens", { method: "POST", key: ADMIN_TOKEN });
    const { token } = (await tokenRes.json()) as { token: string };
    const worker = (path: string, init: RequestInit & { json?: unknown } = {}) =>
      api(`/v1/pools/external${path}`, { method: "POST", key: token, ...init });
    const run = await createRun({
      project: "ext",
      steps: [{ id: "x", type: "external.task", input: { kind: "noop" } }],
    });
    const lease = ((await (await worker("/leases", { json: { waitMs: 5_000 } })).json()) as { lease: { id: string } })
      .lease;
    const secret = planted[1]!;
    const up = await worker(`/leases/${lease.id}/artifacts/release.sh`, {
      method: "PUT",
      body: secret.content,
      headers: { "content-type": "text/x-sh" },
    });
    expect(up.status).toBe(201);
    const result = await worker(`/leases/${lease.id}/result`, {
      json: { outcome: "succeeded", output: {}, artifacts: ["release.sh"] },
    });
    expect(result.status).toBe(200);
    const done = await waitForRun(run.id);
    expect(done.steps[0]!.error?.code).toBe("artifact.secret_detected");
    const [a] = await artifacts(run.id);
    expect(a).toMatchObject({ name: "release.sh", status: "rejected" });
    expect(a!.scan!.findings[0]).toMatchObject({ ruleId: secret.ruleId, file: "release.sh", line: 4 });
    expect((await api(`/v1/runs/${run.id}/artifacts/release.sh`)).status).toBe(409);
    expectNoPlantedValue(await everythingSaid(run.id));
  });
});

describe("what the first pass let through (issue 33, findings 1-3), uploaded by an external worker", () => {
  it("binary-sniffed files, a duplicate zip entry and a nested zip are each rejected under block", async () => {
    const tokenRes = await api("/v1/admin/pools/external/tokens", { method: "POST", key: ADMIN_TOKEN });
    const { token } = (await tokenRes.json()) as { token: string };
    const worker = (path: string, init: RequestInit & { json?: unknown } = {}) =>
      api(`/v1/pools/external${path}`, { method: "POST", key: token, ...init });
    const [aws, github] = planted as [(typeof planted)[0], (typeof planted)[0]];
    const pem = planted.find((p) => p.ruleId === "@secretlint/secretlint-rule-privatekey")!;
    const NUL = new Uint8Array([0]);
    const cases: [string, string, Uint8Array, string][] = [
      ["aws.env", "text/plain", join(aws.content, NUL), aws.ruleId],
      ["release.sh", "text/x-sh", join(github.content, new Uint8Array([0xff])), github.ruleId],
      ["certs.zip", "application/zip", zipSync({ "server.key": join(pem.content, NUL) }), pem.ruleId],
      [
        "dup.zip",
        "application/zip",
        zipOf([
          ["aws.env", strToU8(aws.content)],
          ["aws.env", strToU8("REGION=eu-west-1\n")],
        ]),
        aws.ruleId,
      ],
      [
        "nested.zip",
        "application/zip",
        zipSync({ "inner.zip": zipSync({ "a.sh": strToU8(github.content) }) }),
        github.ruleId,
      ],
    ];
    for (const [name, contentType, body, ruleId] of cases) {
      const run = await createRun({
        project: "ext",
        steps: [{ id: "x", type: "external.task", input: { kind: "noop" } }],
      });
      const leased = (await (await worker("/leases", { json: { waitMs: 5_000 } })).json()) as { lease: { id: string } };
      const up = await worker(`/leases/${leased.lease.id}/artifacts/${name}`, {
        method: "PUT",
        body,
        headers: { "content-type": contentType },
      });
      expect(up.status, name).toBe(201);
      const result = await worker(`/leases/${leased.lease.id}/result`, {
        json: { outcome: "succeeded", output: {}, artifacts: [name] },
      });
      expect(result.status, name).toBe(200);
      const done = await waitForRun(run.id);
      expect(done.steps[0]!.error?.code, name).toBe("artifact.secret_detected");
      const [a] = await artifacts(run.id);
      expect(a!.status, name).toBe("rejected");
      expect(
        a!.scan!.findings.map((f) => f.ruleId),
        name,
      ).toContain(ruleId);
      expect((await api(`/v1/runs/${run.id}/artifacts/${name}`)).status, name).toBe(409);
      expectNoPlantedValue(await everythingSaid(run.id));
    }
  }, 60_000);
});

describe("fingerprints keyed by FINGERPRINT_KEY (issue 33, finding 7)", () => {
  it("an allow list written with v1 fingerprints keeps accepting; findings show only the keyed v2", async () => {
    const aws = planted[0]!;
    const publicKey = await crypto.subtle.importKey(
      "raw",
      strToU8("factory-artifact-fingerprint:v1:dev"),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", publicKey, strToU8(`${aws.ruleId}\0${aws.secret}`)));
    const v1 = `fp_${[...mac.subarray(0, 16)].map((x) => x.toString(16).padStart(2, "0")).join("")}`;
    await api("/v1/runs"); // the dev tenant comes into being on the dev key's first use
    const added = await admin("dev/scanning/allow", {
      method: "POST",
      json: { project: "migrated", fingerprint: v1, reason: "reviewed before v2" },
    });
    expect(added.status).toBe(201);

    const tokenRes = await api("/v1/admin/pools/external/tokens", { method: "POST", key: ADMIN_TOKEN });
    const { token } = (await tokenRes.json()) as { token: string };
    const worker = (path: string, init: RequestInit & { json?: unknown } = {}) =>
      api(`/v1/pools/external${path}`, { method: "POST", key: token, ...init });
    const run = await createRun({
      project: "migrated",
      steps: [{ id: "x", type: "external.task", input: { kind: "noop" } }],
    });
    const leased = (await (await worker("/leases", { json: { waitMs: 5_000 } })).json()) as { lease: { id: string } };
    await worker(`/leases/${leased.lease.id}/artifacts/aws.env`, {
      method: "PUT",
      body: aws.content,
      headers: { "content-type": "text/plain" },
    });
    await worker(`/leases/${leased.lease.id}/result`, {
      json: { outcome: "succeeded", output: {}, artifacts: ["aws.env"] },
    });
    expect((await waitForRun(run.id)).status).toBe("succeeded");
    const [a] = await artifacts(run.id);
    const finding = a!.scan!.findings.find((f) => f.ruleId === aws.ruleId)!;
    expect(finding.accepted).toBe(true);
    expect(finding.fingerprint).not.toBe(v1);
    expect(await everythingSaid(run.id)).not.toContain(v1);
  });
});
