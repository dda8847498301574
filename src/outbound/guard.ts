/** The whole SSRF guard: the pure check (ssrf.ts), then resolution of names (resolve.ts). */
import { isProduction, type Env } from "../env";
import { DEFAULT_DOH_URL, resolvePublicName } from "./resolve";
import { checkWebhookUrl, type UrlPolicy } from "./ssrf";

export interface OutboundGuard {
  policy: UrlPolicy;
  /** The DNS-over-HTTPS resolver names are looked up with. */
  dohUrl: string;
}

/** The canonical URL to store and call, or why it is refused. IP literals are never resolved. */
export type GuardResult = { ok: true; url: URL } | { ok: false; reason: string };

export async function guardUrl(raw: string, guard: OutboundGuard): Promise<GuardResult> {
  const check = checkWebhookUrl(raw, guard.policy);
  if (!check.ok) return check;
  if (check.name !== null) {
    const resolved = await resolvePublicName(check.name, guard.dohUrl);
    if (!resolved.ok) return resolved;
  }
  return { ok: true, url: check.url };
}

/** Plain http to loopback is for local receivers only, never in production; names resolve over DoH. */
export const urlGuard = (env: Env): OutboundGuard => ({
  policy: { allowLoopbackHttp: !isProduction(env) },
  dohUrl: env.DOH_URL || DEFAULT_DOH_URL,
});
