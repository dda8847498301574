import { zipSync, strToU8 } from "fflate";
import { describe, expect, it } from "vitest";
import { HIGH_ENTROPY_RULE, findHighEntropyAssignments } from "../../src/artifacts/entropy";
import { scanArtifact } from "../../src/artifacts/scan";
import { plantedSecrets } from "../../src/data/jobs/planted";

const options = { policy: "block" as const, allow: [], salt: "salt-a" };

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

  it("fingerprints are stable for a salt, differ across salts, and an allow list accepts them", async () => {
    const p = plantedSecrets()[0]!;
    const a = await scanArtifact("a.env", strToU8(p.content), "text/plain", options);
    const b = await scanArtifact("b.env", strToU8(`\n\n${p.content}`), "text/plain", options);
    const c = await scanArtifact("a.env", strToU8(p.content), "text/plain", { ...options, salt: "salt-b" });
    const fp = a.scan.findings[0]!.fingerprint;
    expect(fp).toMatch(/^fp_[0-9a-f]{32}$/);
    expect(b.scan.findings[0]!.fingerprint).toBe(fp);
    expect(c.scan.findings[0]!.fingerprint).not.toBe(fp);
    const allowed = await scanArtifact("a.env", strToU8(p.content), "text/plain", { ...options, allow: [fp] });
    expect(allowed.status).toBe("validated");
    expect(allowed.scan.findings[0]!.accepted).toBe(true);
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

  it("skips binary files by sniffing, and lists them", async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13, 1, 2, 3]);
    const zip = zipSync({ "a/logo.png": png, "a/README.md": strToU8("# hello\n") });
    const { scan, status } = await scanArtifact("a.zip", zip, "application/zip", options);
    expect(status).toBe("validated");
    expect(scan.state).toBe("complete");
    expect(scan.notScanned).toEqual([{ file: "a/logo.png", reason: "binary" }]);
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
