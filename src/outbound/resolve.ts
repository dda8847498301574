/**
 * Resolves webhook host names over DNS-over-HTTPS (the JSON API of cloudflare-dns.com and
 * dns.google) and judges every address: a name is public only if each of its A and AAAA
 * records is. Answers are cached per isolate for their TTL, clamped and bounded in count.
 */
import { z } from "zod";
import { isPublicAddress } from "./ssrf";

export const DEFAULT_DOH_URL = "https://cloudflare-dns.com/dns-query";

export type NameCheck = { ok: true; addresses: string[] } | { ok: false; reason: string };

const RECORD_TYPES = { A: 1, AAAA: 28 } as const;
/** A resolver that does not answer in this long is a failure, not a pass. */
const LOOKUP_TIMEOUT_MS = 3_000;
/**
 * Never cache beyond the record's own TTL past five minutes; the 1 s floor spares the resolver
 * a query per delivery for TTL-0 names without widening the rebinding window meaningfully
 * (fetch() resolves on its own anyway, see docs/security.md).
 */
const MIN_TTL_S = 1;
const MAX_TTL_S = 300;
const CACHE_ENTRIES = 1_000;

const DohAnswer = z.object({
  Status: z.number(),
  Answer: z.array(z.object({ type: z.number(), TTL: z.number(), data: z.string() })).optional(),
});

interface Cached {
  addresses: string[];
  expiresAt: number;
}

// Per isolate on purpose: an answer is valid for its TTL wherever it was fetched.
const cache = new Map<string, Cached>();

/** Resolves `name` with the resolver at `dohUrl` and refuses it unless every address is public. */
export async function resolvePublicName(name: string, dohUrl: string, now = Date.now()): Promise<NameCheck> {
  let addresses: string[];
  try {
    addresses = await lookup(name, dohUrl, now);
  } catch (err) {
    return { ok: false, reason: `${name} could not be resolved: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (addresses.length === 0) return { ok: false, reason: `${name} has no A or AAAA record` };
  const bad = addresses.find((ip) => !isPublicAddress(ip));
  if (bad !== undefined) return { ok: false, reason: `${name} resolves to ${bad}, a private or reserved address` };
  return { ok: true, addresses };
}

async function lookup(name: string, dohUrl: string, now: number): Promise<string[]> {
  const key = `${dohUrl} ${name}`;
  const hit = cache.get(key);
  if (hit && hit.expiresAt > now) return hit.addresses;
  cache.delete(key);

  const answers = await Promise.all([query(name, "A", dohUrl), query(name, "AAAA", dohUrl)]);
  const records = answers.flat();
  const addresses = records.map((r) => r.data);
  // Nothing to cache for a name without records: those are refused and not retried often.
  if (records.length > 0) {
    const ttl = Math.min(MAX_TTL_S, Math.max(MIN_TTL_S, Math.min(...records.map((r) => r.TTL))));
    if (cache.size >= CACHE_ENTRIES) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(key, { addresses, expiresAt: now + ttl * 1000 });
  }
  return addresses;
}

/** One query; the answer's final A or AAAA records (a recursive resolver follows CNAMEs). */
async function query(
  name: string,
  type: keyof typeof RECORD_TYPES,
  dohUrl: string,
): Promise<{ data: string; TTL: number }[]> {
  const url = new URL(dohUrl);
  url.searchParams.set("name", name);
  url.searchParams.set("type", type);
  const res = await fetch(url, {
    headers: { accept: "application/dns-json" },
    signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS),
  });
  if (!res.ok) throw new Error(`the resolver answered HTTP ${res.status}`);
  const parsed = DohAnswer.safeParse(await res.json().catch(() => null));
  if (!parsed.success) throw new Error("the resolver's answer is not DNS JSON");
  // 3 is NXDOMAIN: no records, which the caller refuses; anything else but 0 is a failure.
  if (parsed.data.Status === 3) return [];
  if (parsed.data.Status !== 0) throw new Error(`the resolver answered status ${parsed.data.Status}`);
  return (parsed.data.Answer ?? []).filter((r) => r.type === RECORD_TYPES[type]);
}
