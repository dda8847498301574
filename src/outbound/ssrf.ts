/**
 * The SSRF guard for outbound webhook URLs, its pure half: canonicalise with the WHATWG URL
 * parser and refuse what is refusable by inspection. Names that pass are resolved and judged by
 * address in resolve.ts (guard.ts joins the two). docs/security.md lists every rule.
 */
import { must } from "../lib/must";

/** `name` is the DNS name a delivery will look up (null for an IP literal: nothing to resolve). */
export type UrlCheck = { ok: true; url: URL; name: string | null } | { ok: false; reason: string };

export interface UrlPolicy {
  /** Local development only: allow plain http to literal loopback with a port, for test receivers. */
  allowLoopbackHttp: boolean;
}

/**
 * Suffixes that only mean something inside a network: RFC 6761/6762/8375/9476 special-use
 * names, ICANN's reserved `.internal`, Kubernetes' `.svc`, and private TLDs in common use.
 */
const INTERNAL_SUFFIXES = [
  "localhost",
  "local",
  "localdomain",
  "internal",
  "intranet",
  "private",
  "corp",
  "home",
  "lan",
  "svc",
  "arpa",
  "test",
  "example",
  "invalid",
  "onion",
  "alt",
];

/** Development's only http targets: literal loopback, as the URL parser prints it. */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]"]);

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
  ["192.88.99.0", 24], // 6to4 relay anycast (deprecated)
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
];

// Whitespace, controls and invisible format characters (bidi overrides, zero-width spaces):
// the parser would silently drop or keep them, and what we store must be what we checked.
const UNSAFE_CHARS = /[\s\p{Cc}\p{Cf}]/u;

const refuse = (reason: string): UrlCheck => ({ ok: false, reason });

export function checkWebhookUrl(raw: string, policy: UrlPolicy): UrlCheck {
  if (UNSAFE_CHARS.test(raw)) return refuse("whitespace or control characters are not allowed");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse("not a valid absolute URL");
  }
  if (url.username || url.password) return refuse("credentials in the URL are not allowed");
  const host = url.hostname;
  if (isIPv4(host) && rawHost(raw) !== host) return refuse("an IPv4 address must be written as four decimal numbers");

  if (policy.allowLoopbackHttp && url.protocol === "http:" && LOOPBACK_HOSTS.has(host) && url.port !== "")
    return { ok: true, url, name: null };
  if (url.protocol !== "https:") {
    return refuse(
      policy.allowLoopbackHttp
        ? "only https URLs are allowed (and, in development, http://127.0.0.1:port or http://[::1]:port)"
        : "only https URLs are allowed",
    );
  }
  // The parser drops an explicit :443, so any port left is a non-default one.
  if (url.port !== "") return refuse("only the default https port (443) is allowed");

  if (host.startsWith("["))
    return isPublicV6(host.slice(1, -1)) ? { ok: true, url, name: null } : refuse("a private or reserved IPv6 address");
  if (isIPv4(host))
    return isPublicV4(host) ? { ok: true, url, name: null } : refuse("a private or reserved IPv4 address");

  // `example.com.` and `example.com` are the same name; check and store the second.
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  const labels = name.split(".");
  if (labels.some((l) => l === "")) return refuse("not a valid hostname");
  if (labels.length < 2 || INTERNAL_SUFFIXES.some((s) => name === s || name.endsWith(`.${s}`)))
    return refuse("an internal hostname");
  url.hostname = name;
  return { ok: true, url, name };
}

/** True for an IPv4 or IPv6 address (as DNS answers print them) outside every refused range. */
export function isPublicAddress(ip: string): boolean {
  return isIPv4(ip) ? isPublicV4(ip) : ip.includes(":") && isPublicV6(ip);
}

/**
 * The host exactly as the caller wrote it (lower-cased), to tell `127.0.0.1` from the spellings
 * the parser turns into it (`127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`, `127.0.0.1.`).
 * Special schemes treat `\` as `/` and allow any number of slashes after the colon.
 */
function rawHost(raw: string): string {
  const afterScheme = raw.slice(raw.indexOf(":") + 1).replace(/^[/\\]*/, "");
  const authority = afterScheme.split(/[/\\?#]/, 1)[0] ?? "";
  return authority
    .slice(authority.lastIndexOf("@") + 1)
    .replace(/:\d*$/, "")
    .toLowerCase();
}

function isIPv4(s: string): boolean {
  return v4ToInt(s) !== null;
}

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

function isPublicV4(ip: string): boolean {
  const n = v4ToInt(ip);
  if (n === null) return false;
  return !BLOCKED_V4_MASKS.some(({ net, mask }) => (n & mask) >>> 0 === (net & mask) >>> 0);
}

/** BLOCKED_V4 as numbers, parsed once when the module loads. */
const BLOCKED_V4_MASKS = BLOCKED_V4.map(([net, bits]) => ({
  net: must(v4ToInt(net), `a parsable IPv4 network in BLOCKED_V4, not ${net}`),
  mask: bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits),
}));

const v4FromGroups = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/** Expands an IPv6 address (compressed, or ending in a dotted IPv4) to 8 groups; null if malformed. */
function v6Groups(ip: string): number[] | null {
  let text = ip.toLowerCase();
  const [, prefix, v4] = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text) ?? [];
  if (prefix !== undefined && v4 !== undefined) {
    const n = v4ToInt(v4);
    if (n === null) return null;
    text = `${prefix}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string) =>
    s === "" ? [] : s.split(":").map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN));
  // One part without a "::", two around it; the tail is undefined for an uncompressed address.
  const [head = [], tail] = halves.map(parse);
  const fill = tail ? 8 - head.length - tail.length : 0;
  if (fill < (tail ? 1 : 0)) return null;
  const groups = [...head, ...Array<number>(fill).fill(0), ...(tail ?? [])];
  return groups.length === 8 && groups.every((g) => !Number.isNaN(g)) ? groups : null;
}

/**
 * Only global unicast (2000::/3) is public, minus its special blocks; forms that embed an IPv4
 * address (mapped, SIIT, IPv4-compatible, 6to4, Teredo) are judged by the address inside,
 * since a gateway would deliver them there.
 */
function isPublicV6(ip: string): boolean {
  const g = v6Groups(ip);
  if (!g) return false; // not something we can reason about (zone ids included): refuse
  const [a, b, c, d, e, f, hi, lo] = g as [number, number, number, number, number, number, number, number];
  if (a === 0 && b === 0 && c === 0 && d === 0) {
    if (e === 0 && (f === 0xffff || f === 0)) return isPublicV4(v4FromGroups(hi, lo)); // ::ffff:a.b.c.d, ::a.b.c.d (so :: and ::1 too)
    if (e === 0xffff && f === 0) return isPublicV4(v4FromGroups(hi, lo)); // SIIT ::ffff:0:a.b.c.d
    return false;
  }
  if (a === 0x2002) return isPublicV4(v4FromGroups(b, c)); // 6to4 2002:aabb:ccdd::/48
  // Teredo 2001:0::/32: the server's address, then the client's, obfuscated by inversion.
  if (a === 0x2001 && b === 0)
    return isPublicV4(v4FromGroups(c, d)) && isPublicV4(v4FromGroups(~hi & 0xffff, ~lo & 0xffff));
  if ((a & 0xe000) !== 0x2000) return false; // outside 2000::/3: ULA, link- and site-local, multicast, NAT64, discard
  if (a === 0x2001 && b < 0x0200) return false; // 2001::/23 IETF protocol assignments (benchmarking, ORCHID)
  if (a === 0x2001 && b === 0x0db8) return false; // documentation
  if ((a & 0xfff0) === 0x3ff0) return false; // documentation 3fff::/20
  return true;
}
