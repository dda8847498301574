/**
 * The SSRF guard for outbound webhook URLs. The WHATWG URL parser normalizes the tricky
 * spellings first (decimal `2130706433`, octal `0177.0.0.1`, hex `0x7f.1`, IPv4-mapped IPv6),
 * so the checks below see canonical literals. Hostnames are not resolved here: on Cloudflare,
 * Workers cannot reach private networks anyway; this refuses what is refusable by inspection.
 */

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

export interface UrlPolicy {
  /** Local development only: allow plain http to loopback, for test receivers. */
  allowLoopbackHttp: boolean;
}

const BLOCKED_HOSTNAMES = [/^localhost$/, /\.localhost$/, /\.local$/, /\.internal$/, /^metadata$/, /^metadata\.google\.internal$/];

/** [network, prefix length] of IPv4 ranges that are never a customer's public endpoint. */
const BLOCKED_V4: [string, number][] = [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // CGNAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, cloud metadata (169.254.169.254)
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
];

function v4ToInt(ip: string): number | null {
  const parts = ip.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
    n = n * 256 + Number(p);
  }
  return n;
}

function blockedV4(ip: string): boolean {
  const n = v4ToInt(ip);
  if (n === null) return false;
  return BLOCKED_V4.some(([net, bits]) => {
    const mask = bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits);
    return (n & mask) >>> 0 === (v4ToInt(net)! & mask) >>> 0;
  });
}

/** Expands an IPv6 literal (as the URL parser prints it, without brackets) to 8 groups. */
function v6Groups(ip: string): number[] | null {
  const [head, tail, ...rest] = ip.split("::");
  if (rest.length > 0) return null;
  const parse = (s: string | undefined) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const h = parse(head);
  const t = parse(tail);
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

function blockedV6(ip: string): boolean {
  const g = v6Groups(ip);
  if (!g) return true; // not something we can reason about: refuse
  const [a = 0, b = 0] = g;
  if (g.slice(0, 7).every((x) => x === 0) && (g[7] === 0 || g[7] === 1)) return true; // :: and ::1
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) {
    // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d): judge the IPv4 inside.
    return blockedV4(`${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`);
  }
  if (a === 0x64 && b === 0xff9b) return true; // NAT64 can reach IPv4 private space
  if ((a & 0xfe00) === 0xfc00) return true; // unique local fc00::/7
  if ((a & 0xffc0) === 0xfe80) return true; // link-local fe80::/10
  if ((a & 0xff00) === 0xff00) return true; // multicast
  if (a === 0x2001 && b === 0x0db8) return true; // documentation
  return false;
}

export function checkWebhookUrl(raw: string, policy: UrlPolicy): UrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "not a valid absolute URL" };
  }
  if (url.username || url.password) return { ok: false, reason: "credentials in the URL are not allowed" };
  const host = url.hostname.toLowerCase();
  const v6 = host.startsWith("[") ? host.slice(1, -1) : null;
  const loopback = host === "127.0.0.1" || host === "localhost" || v6 === "::1";

  if (url.protocol === "http:" && policy.allowLoopbackHttp && loopback) return { ok: true, url };
  if (url.protocol !== "https:") return { ok: false, reason: "only https URLs are allowed" };
  if (url.port && url.port !== "443" && !policy.allowLoopbackHttp) return { ok: false, reason: "only the default https port is allowed" };
  if (v6 !== null) return blockedV6(v6) ? { ok: false, reason: "a private or reserved IPv6 address" } : { ok: true, url };
  if (/^[\d.]+$/.test(host)) {
    if (v4ToInt(host) === null || blockedV4(host)) return { ok: false, reason: "a private or reserved IPv4 address" };
    return { ok: true, url };
  }
  if (!host.includes(".") || BLOCKED_HOSTNAMES.some((re) => re.test(host))) return { ok: false, reason: "an internal hostname" };
  return { ok: true, url };
}
