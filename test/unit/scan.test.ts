import { gzipSync, strToU8, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { HIGH_ENTROPY_RULE, findHighEntropyAssignments } from "../../src/artifacts/entropy";
import { fingerprinter } from "../../src/artifacts/fingerprint";
import { printableRuns, scanArtifact } from "../../src/artifacts/scan";
import { join, zipOf } from "../support/zip";
import { type Planted, plantedSecrets } from "../../src/data/jobs/planted";

const options = { policy: "block" as const, allow: [], fingerprints: fingerprinter("test-key", "tenant-a") };

describe("scanArtifact", () => {
  it("catches each planted rule family, plain, with its file, line and column", async () => {
    for (const p of plantedSecrets()) {
      const { scan, status } = await scanArtifact(
        p.file.replaceAll("/", "_"),
        strToU8(p.content),
        "text/plain",
        options,
      );
      const rules = scan.findings.map((f) => f.ruleId);
      expect(rules, p.file).toContain(p.ruleId);
      expect(status).toBe("rejected");
      const finding = scan.findings.find((f) => f.ruleId === p.ruleId)!;
      const lines = p.content.split("\n");
      expect(lines[finding.line - 1]?.length, p.file).toBeGreaterThanOrEqual(finding.column);
      expect(JSON.stringify(scan)).not.toContain(p.secret);
    }
  });

  it("catches every planted secret inside a zip, file by file", async () => {
    const planted = plantedSecrets();
    const zip = zipSync(Object.fromEntries(planted.map((p) => [`app/${p.file}`, strToU8(p.content)])));
    const { scan, status } = await scanArtifact("app.zip", zip, "application/zip", options);
    expect(status).toBe("rejected");
    expect(scan.state).toBe("complete");
    expect(scan.files).toBe(planted.length);
    for (const p of planted)
      expect(
        scan.findings.some((f) => f.ruleId === p.ruleId && f.file === `app/${p.file}`),
        p.ruleId,
      ).toBe(true);
    const text = JSON.stringify(scan);
    for (const p of planted) expect(text).not.toContain(p.secret);
  });

  it("fingerprints are stable for a tenant's key, differ across tenants and keys, and an allow list accepts them", async () => {
    const p = plantedSecrets()[0]!;
    const a = await scanArtifact("a.env", strToU8(p.content), "text/plain", options);
    const b = await scanArtifact("b.env", strToU8(`\n\n${p.content}`), "text/plain", options);
    const otherTenant = { ...options, fingerprints: fingerprinter("test-key", "tenant-b") };
    const c = await scanArtifact("a.env", strToU8(p.content), "text/plain", otherTenant);
    const otherKey = { ...options, fingerprints: fingerprinter("another-key", "tenant-a") };
    const d = await scanArtifact("a.env", strToU8(p.content), "text/plain", otherKey);
    const fp = a.scan.findings[0]!.fingerprint;
    expect(fp).toMatch(/^fp_[0-9a-f]{32}$/);
    expect(b.scan.findings[0]!.fingerprint).toBe(fp);
    expect(c.scan.findings[0]!.fingerprint).not.toBe(fp);
    expect(d.scan.findings[0]!.fingerprint).not.toBe(fp);
    const allowed = await scanArtifact("a.env", strToU8(p.content), "text/plain", { ...options, allow: [fp] });
    expect(allowed.status).toBe("validated");
    expect(allowed.scan.findings[0]!.accepted).toBe(true);
  });

  it("a shown fingerprint is not the public v1 HMAC, and v1 allow-list entries still accept (issue 33, finding 7)", async () => {
    const p = plantedSecrets()[0]!;
    // What anyone could compute from a guess before: HMAC under the public per-tenant string.
    const publicKey = await crypto.subtle.importKey(
      "raw",
      strToU8("factory-artifact-fingerprint:v1:tenant-a"),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const guess = new Uint8Array(
      await crypto.subtle.sign("HMAC", publicKey, strToU8(`${p.ruleId}\0${p.secret}`)),
    ).subarray(0, 16);
    const v1 = `fp_${[...guess].map((x) => x.toString(16).padStart(2, "0")).join("")}`;
    const { scan } = await scanArtifact("a.env", strToU8(p.content), "text/plain", options);
    const shown = scan.findings.find((f) => f.ruleId === p.ruleId)!;
    expect(shown.fingerprint).not.toBe(v1);
    expect(JSON.stringify(scan)).not.toContain(v1);
    // Migration: an allow list holding the v1 fingerprint keeps accepting the finding.
    const legacy = await scanArtifact("a.env", strToU8(p.content), "text/plain", { ...options, allow: [v1] });
    expect(legacy.status).toBe("validated");
    expect(legacy.scan.findings.find((f) => f.ruleId === p.ruleId)!).toMatchObject({
      fingerprint: shown.fingerprint,
      accepted: true,
    });
    // Without FINGERPRINT_KEY nothing is fingerprinted: the scan refuses rather than fall back.
    const unkeyed = { ...options, fingerprints: fingerprinter(undefined, "tenant-a") };
    await expect(scanArtifact("a.env", strToU8(p.content), "text/plain", unkeyed)).rejects.toThrow(/FINGERPRINT_KEY/);
  });

  it("warn keeps an artifact with findings", async () => {
    const p = plantedSecrets()[1]!;
    const r = await scanArtifact("x.sh", strToU8(p.content), "text/plain", { ...options, policy: "warn" });
    expect(r.status).toBe("validated");
    expect(r.scan.findingsCount).toBe(1);
  });

  it("a finding in one file of a 1,000-file zip is found", async () => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 1000; i++) files[`app/src/m${i}.ts`] = strToU8(`export const m${i} = ${i};\n`);
    const p = plantedSecrets()[0]!;
    files["app/src/m637.ts"] = strToU8(`export const m637 = 637;\n${p.content}`);
    const { scan } = await scanArtifact("big.zip", zipSync(files), "application/zip", options);
    expect(scan.files).toBe(1000);
    expect(scan.findings.map((f) => [f.file, f.line])).toEqual([["app/src/m637.ts", 4]]);
  });

  it("scans binary files in their printable runs: a PNG with nothing in it passes complete", async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13, 1, 2, 3]);
    const zip = zipSync({ "a/logo.png": png, "a/README.md": strToU8("# hello\n") });
    const { scan, status } = await scanArtifact("a.zip", zip, "application/zip", options);
    expect(status).toBe("validated");
    expect(scan.state).toBe("complete");
    expect(scan.files).toBe(2);
    expect(scan.notScanned).toEqual([]);
  });

  it("refuses a zip bomb without inflating it, and blocks it as not validated", async () => {
    const zip = zipSync({ "bomb.txt": new Uint8Array(64 * 1024 * 1024) }, { level: 9 });
    expect(zip.byteLength).toBeLessThan(200_000);
    const { scan, status } = await scanArtifact("bomb.zip", zip, "application/zip", options);
    expect(scan.notScanned).toEqual([{ file: "bomb.txt", reason: "zip_bomb" }]);
    expect(scan.state).toBe("partial");
    expect(status).toBe("rejected");
    const warned = await scanArtifact("bomb.zip", zip, "application/zip", { ...options, policy: "warn" });
    expect(warned.status).toBe("validated");
  });

  it("a 20 MB zip is scanned within its bounds, or recorded as partially scanned", async () => {
    const files: Record<string, Uint8Array> = {};
    const line = "const value = 'the quick brown fox jumps over the lazy dog';\n";
    for (let i = 0; i < 20; i++) files[`big/f${i}.ts`] = strToU8(line.repeat(Math.ceil((1024 * 1024) / line.length)));
    const zip = zipSync(files, { level: 0 });
    expect(zip.byteLength).toBeGreaterThan(20 * 1024 * 1024);
    const full = await scanArtifact("big.zip", zip, "application/zip", options);
    expect(full.scan.state).toBe("complete");
    expect(full.scan.files).toBe(20);
    const bounded = await scanArtifact("big.zip", zip, "application/zip", {
      ...options,
      limits: { bytes: 8 * 1024 * 1024 },
    });
    expect(bounded.scan.state).toBe("partial");
    expect(bounded.status).toBe("rejected");
    expect(bounded.scan.notScanned.filter((n) => n.reason === "byte_budget").length).toBeGreaterThan(10);
    const timed = await scanArtifact("big.zip", zip, "application/zip", { ...options, limits: { timeMs: 0 } });
    expect(timed.scan.state).toBe("partial");
    expect(timed.scan.notScanned.some((n) => n.reason === "time_budget")).toBe(true);
  }, 60_000);

  it("an unreadable zip is not passed", async () => {
    const bad = new Uint8Array([0x50, 0x4b, 3, 4, 9, 9, 9]);
    const { scan, status } = await scanArtifact("bad.zip", bad, "application/zip", options);
    expect(scan.state).toBe("partial");
    expect(status).toBe("rejected");
  });
});

const [aws, github, , , , , , pemKey] = plantedSecrets() as [Planted, Planted, ...Planted[]];
const NUL = new Uint8Array([0]);
const FF = new Uint8Array([0xff]);

describe("what the first pass let through (issue 33, findings 1-3)", () => {
  const rules = (scan: { findings: { ruleId: string }[] }) => scan.findings.map((f) => f.ruleId);

  it("an .env with AWS keys and one NUL byte is scanned in its printable runs and rejected", async () => {
    const { scan, status } = await scanArtifact("aws.env", join(aws.content, NUL), "text/plain", options);
    expect(rules(scan)).toContain(aws.ruleId);
    expect(scan.findings.find((f) => f.ruleId === aws.ruleId)).toMatchObject({ line: 3, column: 19 });
    expect(status).toBe("rejected");
    expect(JSON.stringify(scan)).not.toContain(aws.secret);
  });

  it("a shell script with a GitHub token and one 0xFF byte is rejected", async () => {
    const { scan, status } = await scanArtifact("release.sh", join(FF, github.content), "text/x-sh", options);
    expect(rules(scan)).toContain(github.ruleId);
    expect(status).toBe("rejected");
  });

  it("a PEM key with a NUL inside a zip entry is rejected", async () => {
    const zip = zipSync({ "certs/server.key": join(pemKey!.content, NUL, "trailer") });
    const { scan, status } = await scanArtifact("certs.zip", zip, "application/zip", options);
    expect(scan.findings.map((f) => [f.ruleId, f.file])).toContainEqual([pemKey!.ruleId, "certs/server.key"]);
    expect(status).toBe("rejected");
  });

  it("two entries of one name are both scanned: a secret in the first is found", async () => {
    const zip = zipOf([
      ["config/aws.env", strToU8(aws.content)],
      ["config/aws.env", strToU8("REGION=eu-west-1\n")],
    ]);
    const { scan, status } = await scanArtifact("dup.zip", zip, "application/zip", options);
    expect(scan.files).toBe(2);
    expect(scan.findings.map((f) => [f.ruleId, f.file])).toContainEqual([aws.ruleId, "config/aws.env"]);
    expect(status).toBe("rejected");
  });

  it("nested archives are opened: a zip in a zip, a .tar.gz in a zip, a gzip file", async () => {
    const inner = zipSync({ "deep/release.sh": strToU8(github.content) });
    const outer = zipSync({ "dist/bundle.zip": inner, "README.md": strToU8("# ok\n") });
    const nested = await scanArtifact("out.zip", outer, "application/zip", options);
    expect(nested.scan.findings.map((f) => [f.ruleId, f.file])).toContainEqual([
      github.ruleId,
      "dist/bundle.zip!/deep/release.sh",
    ]);
    expect(nested.status).toBe("rejected");

    const gz = gzipSync(join("settings/aws.env", new Uint8Array(100), aws.content));
    const tgz = await scanArtifact("out.zip", zipSync({ "dist/conf.tar.gz": gz }), "application/zip", options);
    expect(rules(tgz.scan)).toContain(aws.ruleId);
    expect(tgz.status).toBe("rejected");

    const plainGz = await scanArtifact("aws.env.gz", gzipSync(strToU8(aws.content)), "application/gzip", options);
    expect(plainGz.scan.findings.map((f) => [f.ruleId, f.file])).toContainEqual([aws.ruleId, "aws.env"]);
  });

  it("archives nest at most three deep: a fourth level is not opened, and the scan is partial", async () => {
    let z = zipSync({ "clean.txt": strToU8("nothing here\n") });
    for (let i = 0; i < 2; i++) z = zipSync({ [`l${i}.zip`]: z });
    const three = await scanArtifact("a.zip", z, "application/zip", options);
    expect(three.scan.state).toBe("complete");
    expect(three.status).toBe("validated");
    const four = await scanArtifact("a.zip", zipSync({ "l2.zip": z }), "application/zip", options);
    expect(four.scan.state).toBe("partial");
    expect(four.scan.notScanned).toEqual([{ file: "l2.zip!/l1.zip!/l0.zip", reason: "nesting_depth" }]);
    expect(four.status).toBe("rejected");
  });

  it("entry names are scanned too", async () => {
    const zip = zipSync({ [`keys/${github.secret}.txt`]: strToU8("x\n") });
    const { scan, status } = await scanArtifact("names.zip", zip, "application/zip", options);
    expect(rules(scan)).toContain(github.ruleId);
    expect(status).toBe("rejected");
    expect(JSON.stringify(scan.findings)).not.toContain(github.secret);
  });

  it("an entry that inflates past its declared size, or is encrypted, is not scanned and makes the scan partial", async () => {
    const zip = zipSync({ "a.txt": strToU8("hello world, hello world\n".repeat(40)) });
    const view = new DataView(zip.buffer);
    const cd = view.getUint32(zip.byteLength - 22 + 16, true);
    view.setUint32(cd + 24, 10, true); // the central directory now says 10 bytes
    const lied = await scanArtifact("a.zip", zip, "application/zip", options);
    expect(lied.scan.notScanned).toEqual([{ file: "a.txt", reason: "zip_unreadable" }]);
    expect(lied.status).toBe("rejected");
    const xz = new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]);
    const packed = await scanArtifact("a.zip", zipSync({ "b.xz": xz }), "application/zip", options);
    expect(packed.scan.notScanned).toEqual([{ file: "b.xz", reason: "archive_unsupported" }]);
  });

  it("printable runs keep lines and columns, and drop short runs", () => {
    const text = printableRuns(join("ab", NUL, "long enough run\nsecond line", FF));
    expect(text).toBe("   long enough run\nsecond line ");
  });
});

describe("the high-entropy assignment rule", () => {
  it("reports random values and spares placeholders and references", () => {
    const hits = (s: string) => findHighEntropyAssignments(s).map((h) => h.secret);
    expect(hits(`password = "Zq8rT2mLx9VkW4pN"`)).toEqual(["Zq8rT2mLx9VkW4pN"]);
    expect(hits(`  client_secret: 7fG2kQ9zLmP4xR8sT1vW`)).toEqual(["7fG2kQ9zLmP4xR8sT1vW"]);
    for (const ok of [
      `password = "changeme-changeme"`,
      `PASSWORD=\${DB_PASSWORD_FROM_VAULT}`,
      `secret: process.env.WEBHOOK_SECRET`,
      `const token = c.env.API_TOKEN;`,
      `apiKey: "your-api-key-here"`,
      `password: "<your password here>"`,
      `secret = input.secretValue`,
      `const secret = randomBytes(24).toString("hex");`,
      `token: "aaaaaaaaaaaaaaaaaaaa"`,
      `password = "xxxxxxxxxxxxxxxx"`,
    ])
      expect(hits(ok), ok).toEqual([]);
    expect(HIGH_ENTROPY_RULE).toBe("factory/high-entropy-assignment");
  });
});
