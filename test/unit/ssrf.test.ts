import { describe, expect, it } from "vitest";
import { checkWebhookUrl } from "../../src/webhooks/ssrf";

const production = { allowLoopbackHttp: false };
const development = { allowLoopbackHttp: true };

const HOSTILE = [
  "http://example.com/hook", // plain http in production
  "https://127.0.0.1/",
  "https://localhost/",
  "https://2130706433/", // decimal 127.0.0.1
  "https://0x7f.0.0.1/", // hex
  "https://0177.0.0.1/", // octal
  "https://0x7f000001/",
  "https://127.1/",
  "https://0/",
  "https://[::1]/",
  "https://[::]/",
  "https://[::ffff:127.0.0.1]/", // IPv4-mapped
  "https://[::ffff:7f00:1]/",
  "https://[::ffff:169.254.169.254]/",
  "https://[::ffff:10.0.0.1]/",
  "https://[64:ff9b::7f00:1]/", // NAT64
  "https://[fd00::1]/", // unique local
  "https://[fe80::1]/", // link-local
  "https://169.254.169.254/latest/meta-data/", // cloud metadata
  "https://metadata.google.internal/",
  "https://10.0.0.1/",
  "https://172.16.5.4/",
  "https://192.168.1.1/",
  "https://100.64.0.1/", // CGNAT
  "https://0.0.0.0/",
  "https://224.0.0.1/", // multicast
  "https://255.255.255.255/",
  "https://user:pw@example.com/",
  "ftp://example.com/",
  "file:///etc/passwd",
  "javascript:alert(1)",
  "https://foo.localhost/",
  "https://printer.local/",
  "https://svc.internal/",
  "https://intranet/",
  "https://example.com:8443/", // non-default port in production
];

describe("the SSRF guard", () => {
  it.each(HOSTILE)("refuses %s", (url) => {
    const result = checkWebhookUrl(url, production);
    expect(result.ok, JSON.stringify(result)).toBe(false);
  });

  it("has at least 30 hostile cases", () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(30);
  });

  it("accepts public https endpoints", () => {
    expect(checkWebhookUrl("https://hooks.example.com/x?y=1", production).ok).toBe(true);
    expect(checkWebhookUrl("https://8.8.8.8/x", production).ok).toBe(true);
    expect(checkWebhookUrl("https://[2606:4700::1111]/", production).ok).toBe(true);
  });

  it("allows plain http to loopback only in development, and nothing else private", () => {
    expect(checkWebhookUrl("http://127.0.0.1:9999/x", development).ok).toBe(true);
    expect(checkWebhookUrl("http://127.0.0.1:9999/x", production).ok).toBe(false);
    expect(checkWebhookUrl("http://10.0.0.1:9999/x", development).ok).toBe(false);
    expect(checkWebhookUrl("https://169.254.169.254/", development).ok).toBe(false);
  });
});
