import { describe, expect, it } from "vitest";
import { formatApiKey, parseApiKey, type ApiKeyParts } from "../../src/lib/keys";
import { newKeyId, newSecret } from "../../src/lib/crypto";

const secret = "0123456789abcdefghjkmnpqrstvwxyz01234567"; // 40 chars
const keyId = "abcdefgh1234"; // 12 chars
const parts: ApiKeyParts = { tenantId: "acme-corp", keyId, secret };

describe("parseApiKey / formatApiKey", () => {
  it("formats as frk_<tenant>_<keyId>_<secret>", () => {
    expect(formatApiKey(parts)).toBe(`frk_acme-corp_${keyId}_${secret}`);
  });

  it("round trips", () => {
    expect(parseApiKey(formatApiKey(parts))).toEqual(parts);
  });

  it("round trips keys built from freshly generated ids and secrets", () => {
    for (let i = 0; i < 20; i++) {
      const p = { tenantId: `t${i}x`, keyId: newKeyId(), secret: newSecret() };
      expect(parseApiKey(formatApiKey(p))).toEqual(p);
    }
  });

  it("parses the dev key of the test config", () => {
    expect(parseApiKey(`frk_dev_testkey00001_${"0".repeat(40)}`)).toEqual({
      tenantId: "dev",
      keyId: "testkey00001",
      secret: "0".repeat(40),
    });
  });

  it("accepts tenant ids of 2 and 40 characters", () => {
    expect(parseApiKey(formatApiKey({ ...parts, tenantId: "ab" }))?.tenantId).toBe("ab");
    const long = "a".repeat(40);
    expect(parseApiKey(formatApiKey({ ...parts, tenantId: long }))?.tenantId).toBe(long);
  });

  it.each([
    ["the empty string", ""],
    ["a wrong prefix", `frx_acme_${keyId}_${secret}`],
    ["no prefix", `acme_${keyId}_${secret}`],
    ["an uppercase prefix", `FRK_acme_${keyId}_${secret}`],
    ["a one-character tenant", `frk_a_${keyId}_${secret}`],
    ["a 41-character tenant", `frk_${"a".repeat(41)}_${keyId}_${secret}`],
    ["a tenant starting with '-'", `frk_-acme_${keyId}_${secret}`],
    ["an uppercase tenant", `frk_Acme_${keyId}_${secret}`],
    ["an underscore in the tenant", `frk_ac_me_${keyId}_${secret}`],
    ["a short key id", `frk_acme_${keyId.slice(1)}_${secret}`],
    ["a long key id", `frk_acme_${keyId}x_${secret}`],
    ["an uppercase key id", `frk_acme_${keyId.toUpperCase()}_${secret}`],
    ["a short secret", `frk_acme_${keyId}_${secret.slice(1)}`],
    ["a long secret", `frk_acme_${keyId}_${secret}0`],
    ["an uppercase secret", `frk_acme_${keyId}_${secret.toUpperCase()}`],
    ["a trailing newline", `frk_acme_${keyId}_${secret}\n`],
    ["leading whitespace", ` frk_acme_${keyId}_${secret}`],
    ["a Bearer prefix", `Bearer frk_acme_${keyId}_${secret}`],
  ])("rejects %s", (_what, key) => {
    expect(parseApiKey(key)).toBeNull();
  });
});
