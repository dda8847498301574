/**
 * The SSRF guard, table-driven. Each row is an input URL and what the guard does with it in
 * production and in development: the canonical URL it accepts (what gets stored), or a refusal
 * by inspection (`INSPECT`, the pure check) or by resolution (`DNS`, the name resolves to a
 * non-public address or to nothing). Names are resolved by the loopback DoH server that
 * vitest.config.ts starts (its table: test/e2e/support/doh.ts).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { guardUrl } from "../../src/outbound/guard";
import { checkWebhookUrl, isPublicAddress } from "../../src/outbound/ssrf";
import { DNS, FINDINGS, INSPECT, type Outcome, type Row } from "../support/ssrf-findings";

const production = { allowLoopbackHttp: false };
const development = { allowLoopbackHttp: true };

const MORE: Row[] = [
  // public names: accepted and stored canonical
  ["https://hooks.example.com/factory", "https://hooks.example.com/factory"],
  ["https://hooks.example.com", "https://hooks.example.com/"],
  ["https://HOOKS.Example.COM/Path?Q=1", "https://hooks.example.com/Path?Q=1"],
  ["https://hooks.example.com./x", "https://hooks.example.com/x"], // trailing dot stripped
  ["https://hooks.example.com:443/x", "https://hooks.example.com/x"], // the default port
  ["https://hooks.example.com/a/../b/./c", "https://hooks.example.com/b/c"],
  ["https://hooks.example.com/x?y=1#frag", "https://hooks.example.com/x?y=1#frag"],
  ["https://hooks.example.com/a b", INSPECT], // whitespace anywhere
  ["https://hooks.example.com/%20ok", "https://hooks.example.com/%20ok"],
  ["https://hooks.example.com/ü", "https://hooks.example.com/%C3%BC"],
  ["HTTPS://hooks.example.com/", "https://hooks.example.com/"],
  ["https:\\\\hooks.example.com\\x", "https://hooks.example.com/x"], // backslashes are slashes
  ["https:hooks.example.com/x", "https://hooks.example.com/x"],
  ["https://xn--bcher-kva.example.com/", "https://xn--bcher-kva.example.com/"],
  ["https://bücher.example.com/", "https://xn--bcher-kva.example.com/"], // IDN → punycode
  ["https://ｈｏｏｋｓ.example.com/", "https://hooks.example.com/"], // full-width letters
  ["https://%68ooks.example.com/", "https://hooks.example.com/"], // percent-encoded host
  ["https://cname.example.org/", "https://cname.example.org/"], // CNAME to a public name
  ["https://v6only.example.org/", "https://v6only.example.org/"],
  ["https://a.b.c.d.example.net/", "https://a.b.c.d.example.net/"],
  ["https://8.8.8.8.nip.io/", "https://8.8.8.8.nip.io/"], // resolves to a public address
  // names refused on resolution
  ["https://cname-private.example.org/", DNS], // CNAME chain ending at 10.0.0.5
  ["https://mixed.example.org/", DNS], // one public and one private A record
  ["https://v6private.example.org/", DNS], // AAAA fd00::1
  ["https://mapped.example.org/", DNS], // AAAA ::ffff:127.0.0.1
  ["https://metadata.example.org/", DNS], // A 169.254.169.254
  ["https://garbage.example.org/", DNS], // an A record that is not an address
  ["https://nothing.example.org/", DNS], // NXDOMAIN
  ["https://empty.example.org/", DNS], // no A or AAAA
  ["https://servfail.example.org/", DNS], // the resolver fails: refused, not passed
  ["https://broken.example.org/", DNS], // the resolver answers HTTP 500
  ["https://10.0.0.1.nip.io/", DNS],
  ["https://169.254.169.254.nip.io/", DNS],
  ["https://sub.localtest.me/", DNS],
  // public literals
  ["https://8.8.8.8/x", "https://8.8.8.8/x"],
  ["https://1.1.1.1/", "https://1.1.1.1/"],
  ["https://93.184.215.14/", "https://93.184.215.14/"],
  ["https://100.63.255.255/", "https://100.63.255.255/"], // just below CGNAT
  ["https://100.128.0.0/", "https://100.128.0.0/"], // just above CGNAT
  ["https://172.15.255.255/", "https://172.15.255.255/"],
  ["https://172.32.0.1/", "https://172.32.0.1/"],
  ["https://[2606:4700::1111]/", "https://[2606:4700::1111]/"],
  ["https://[2606:4700:0:0:0:0:0:1111]/", "https://[2606:4700::1111]/"],
  ["https://[2001:4860:4860::8888]/", "https://[2001:4860:4860::8888]/"],
  ["https://[2002:808:808::]/", "https://[2002:808:808::]/"], // 6to4 of a public address
  ["https://[::ffff:8.8.8.8]/", "https://[::ffff:808:808]/"], // mapped public address
  ["https://[2001:0:4136:e378:8000:63bf:f7f7:f7f7]/", "https://[2001:0:4136:e378:8000:63bf:f7f7:f7f7]/"], // Teredo, public both ends
  // other spellings of public IPv4: refused, nobody writes them but filters miss them
  ["https://134744072/", INSPECT],
  ["https://0x08080808/", INSPECT],
  ["https://8.8.2056/", INSPECT],
  ["https://010.010.010.010/", INSPECT],
  ["https://8.8.8.8./", INSPECT],
  ["https://%38.8.8.8/", INSPECT],
  ["https://８.８.８.８/", INSPECT],
  // private, reserved and special IPv4, however spelled
  ["https://127.0.0.1/", INSPECT],
  ["https://127.255.255.254/", INSPECT],
  ["https://2130706433/", INSPECT],
  ["https://0x7f.0.0.1/", INSPECT],
  ["https://0177.0.0.1/", INSPECT],
  ["https://0x7f000001/", INSPECT],
  ["https://127.1/", INSPECT],
  ["https://0/", INSPECT],
  ["https://0.0.0.0/", INSPECT],
  ["https://10.0.0.1/", INSPECT],
  ["https://10.255.255.255/", INSPECT],
  ["https://172.16.5.4/", INSPECT],
  ["https://172.31.255.255/", INSPECT],
  ["https://192.168.1.1/", INSPECT],
  ["https://100.64.0.1/", INSPECT],
  ["https://169.254.169.254/latest/meta-data/", INSPECT],
  ["https://169.254.0.1/", INSPECT],
  ["https://192.0.0.8/", INSPECT],
  ["https://192.0.2.1/", INSPECT],
  ["https://192.88.99.1/", INSPECT], // 6to4 relay anycast
  ["https://198.18.0.1/", INSPECT],
  ["https://198.51.100.1/", INSPECT],
  ["https://203.0.113.1/", INSPECT],
  ["https://224.0.0.1/", INSPECT],
  ["https://239.255.255.250/", INSPECT],
  ["https://240.0.0.1/", INSPECT],
  ["https://255.255.255.255/", INSPECT],
  ["https://%31%32%37.0.0.1/", INSPECT],
  ["https://１２７.０.０.１/", INSPECT],
  ["https://127.0.0.1:443/", INSPECT],
  // private, reserved and special IPv6
  ["https://[::1]/", INSPECT],
  ["https://[::]/", INSPECT],
  ["https://[0:0:0:0:0:0:0:1]/", INSPECT],
  ["https://[::ffff:127.0.0.1]/", INSPECT],
  ["https://[::ffff:7f00:1]/", INSPECT],
  ["https://[::ffff:169.254.169.254]/", INSPECT],
  ["https://[::ffff:10.0.0.1]/", INSPECT],
  ["https://[::127.0.0.1]/", INSPECT], // IPv4-compatible
  ["https://[::ffff:0:a9fe:a9fe]/", INSPECT], // SIIT of the metadata address
  ["https://[64:ff9b::7f00:1]/", INSPECT], // NAT64
  ["https://[64:ff9b::808:808]/", INSPECT], // NAT64 reaches whatever the gateway reaches
  ["https://[64:ff9b:1::a00:1]/", INSPECT], // local-use NAT64
  ["https://[2002:a00:1::]/", INSPECT], // 6to4 of 10.0.0.1
  ["https://[2002:c0a8:101::1]/", INSPECT], // 6to4 of 192.168.1.1
  ["https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", INSPECT], // Teredo, client 127.0.0.1
  ["https://[2001:0:7f00:1::1]/", INSPECT], // Teredo, server 127.0.0.1
  ["https://[2001:db8::1]/", INSPECT], // documentation
  ["https://[3fff::1]/", INSPECT], // documentation (RFC 9637)
  ["https://[2001:2::1]/", INSPECT], // benchmarking
  ["https://[2001:10::1]/", INSPECT], // ORCHID
  ["https://[100::1]/", INSPECT], // discard-only
  ["https://[fd00::1]/", INSPECT], // unique local
  ["https://[fc00::1]/", INSPECT],
  ["https://[fe80::1]/", INSPECT], // link-local
  ["https://[febf::1]/", INSPECT],
  ["https://[fec0::abcd]/", INSPECT], // site-local
  ["https://[feff::1]/", INSPECT],
  ["https://[ff02::1]/", INSPECT], // multicast
  ["https://[fe80::1%25eth0]/", INSPECT], // zone id: not a valid URL host
  // internal and special-use names
  ["https://localhost/", INSPECT],
  ["https://LOCALHOST/", INSPECT],
  ["https://ｌｏｃａｌｈｏｓｔ/", INSPECT],
  ["https://foo.localhost/", INSPECT],
  ["https://printer.local/", INSPECT],
  ["https://api.default.svc.cluster.local/", INSPECT],
  ["https://kubernetes.default.svc./", INSPECT],
  ["https://svc.internal/", INSPECT],
  ["https://metadata.google.internal/", INSPECT],
  ["https://router.home.arpa/", INSPECT],
  ["https://1.0.0.127.in-addr.arpa/", INSPECT],
  ["https://nas.lan/", INSPECT],
  ["https://intranet.corp/", INSPECT],
  ["https://box.home/", INSPECT],
  ["https://thing.intranet/", INSPECT],
  ["https://www.example/", INSPECT], // special-use TLDs never resolve publicly
  ["https://www.test/", INSPECT],
  ["https://www.invalid/", INSPECT],
  ["https://hidden.onion/", INSPECT],
  ["https://x.alt/", INSPECT],
  ["https://intranet/", INSPECT], // single label
  ["https://metadata/", INSPECT],
  ["https://instance-data/", INSPECT],
  ["https://hooks.example.com../", INSPECT], // an empty label
  ["https://.hooks.example.com/", INSPECT],
  // schemes, credentials, ports, characters
  ["http://hooks.example.com/", INSPECT],
  ["http://8.8.8.8/", INSPECT],
  ["ftp://hooks.example.com/", INSPECT],
  ["ws://hooks.example.com/", INSPECT],
  ["wss://hooks.example.com/", INSPECT],
  ["file:///etc/passwd", INSPECT],
  ["javascript:alert(1)", INSPECT],
  ["data:text/plain,hi", INSPECT],
  ["gopher://127.0.0.1:6379/_INFO", INSPECT],
  ["https://user:pw@hooks.example.com/", INSPECT],
  ["https://user@hooks.example.com/", INSPECT],
  ["https://:pw@hooks.example.com/", INSPECT],
  ["https://hooks.example.com@127.0.0.1/", INSPECT],
  ["https://hooks.example.com:8443/", INSPECT],
  ["https://hooks.example.com:80/", INSPECT],
  ["https://hooks.example.com:0/", INSPECT],
  ["https://hooks.example.com:65536/", INSPECT],
  ["https://8.8.8.8:8080/", INSPECT],
  ["https://hooks.example.com/\tx", INSPECT],
  ["https://hooks.example.com/x\n", INSPECT],
  ["https://hooks.example.com/\u0000", INSPECT],
  ["https://hooks.example.com/\u202ex", INSPECT], // bidi override
  ["https://hooks.example.com/\u00a0", INSPECT], // no-break space
  ["https://hooks.\u200bexample.com/", INSPECT], // zero-width space
  ["https://hooks.example.com/ ", INSPECT],
  ["not a url", INSPECT],
  ["/relative/path", INSPECT],
  ["", INSPECT],
  ["https://", INSPECT],
  ["https://[::1/", INSPECT],
  ["https://exa mple.com/", INSPECT],
  // development's one exception: http to literal loopback with a port
  ["http://127.0.0.1:9411/", INSPECT, "http://127.0.0.1:9411/"],
  ["http://127.0.0.1:9411/hooks?x=1", INSPECT, "http://127.0.0.1:9411/hooks?x=1"],
  ["http://[::1]:9411/", INSPECT, "http://[::1]:9411/"],
  ["http://[0:0:0:0:0:0:0:1]:9411/", INSPECT, "http://[::1]:9411/"],
  ["http://127.0.0.1/", INSPECT],
  ["http://127.0.0.1:80/", INSPECT], // the default port is no port
  ["http://127.0.0.2:9411/", INSPECT],
  ["http://127.1:9411/", INSPECT],
  ["http://2130706433:9411/", INSPECT],
  ["http://0x7f000001:9411/", INSPECT],
  ["http://127.0.0.1.:9411/", INSPECT],
  ["http://localhost:9411/", INSPECT],
  ["http://[::ffff:127.0.0.1]:9411/", INSPECT],
  ["http://user@127.0.0.1:9411/", INSPECT],
  ["https://127.0.0.1:9411/", INSPECT],
  ["http://10.0.0.1:9411/", INSPECT],
  ["http://127.0.0.1:9411/\r\n", INSPECT],
  ["\thttp://127.0.0.1:9411/", INSPECT],
];

const ROWS = [...FINDINGS, ...MORE];
const modes = [
  ["production", production, (r: Row) => r[1]],
  ["development", development, (r: Row) => r[2] ?? r[1]],
] as const;
const guard = (policy: typeof production) => ({ policy, dohUrl: env.DOH_URL! });
const show = (o: Outcome) => (typeof o === "string" ? `accepts as ${o}` : `refuses (${o.refused})`);

describe.each(modes)("the SSRF guard in %s", (_mode, policy, expected) => {
  it.each(ROWS.map((r) => [r[0], show(expected(r)), r] as const))("%j %s", async (_input, _what, row) => {
    const want = expected(row);
    const pure = checkWebhookUrl(row[0], policy);
    const full = await guardUrl(row[0], guard(policy));
    if (typeof want === "string") {
      expect(pure.ok && pure.url.href, JSON.stringify(pure)).toBe(want);
      expect(full.ok && full.url.href, JSON.stringify(full)).toBe(want);
    } else {
      // A refusal by resolution passes inspection: the name itself looks public.
      expect(pure.ok, JSON.stringify(pure)).toBe(want.refused === "dns");
      expect(full.ok, JSON.stringify(full)).toBe(false);
    }
  });
});

describe("the table", () => {
  it("holds every finding and more than 100 other cases", () => {
    expect(FINDINGS).toHaveLength(23);
    expect(MORE.length).toBeGreaterThan(100);
    expect(new Set(ROWS.map((r) => r[0])).size).toBe(ROWS.length);
  });
});

describe("refusals say why", () => {
  it.each([
    ["http://127.0.0.1:9411/\r\nX: 1", production, "whitespace or control characters are not allowed"],
    ["https://user:pw@hooks.example.com/", production, "credentials in the URL are not allowed"],
    ["https://hooks.example.com:8443/", production, "only the default https port (443) is allowed"],
    ["https://2130706433/", production, "an IPv4 address must be written as four decimal numbers"],
    ["https://[2002:7f00:1::]/", production, "a private or reserved IPv6 address"],
    ["https://kubernetes.default.svc/", production, "an internal hostname"],
    [
      "http://localhost:9411/",
      development,
      "only https URLs are allowed (and, in development, http://127.0.0.1:port or http://[::1]:port)",
    ],
  ])("%j", (input, policy, reason) => {
    expect(checkWebhookUrl(input, policy)).toEqual({ ok: false, reason });
  });

  it.each([
    ["https://127.0.0.1.nip.io/", "127.0.0.1.nip.io resolves to 127.0.0.1, a private or reserved address"],
    [
      "https://cname-private.example.org/",
      "cname-private.example.org resolves to 10.0.0.5, a private or reserved address",
    ],
    ["https://nothing.example.org/", "nothing.example.org has no A or AAAA record"],
    ["https://servfail.example.org/", "servfail.example.org could not be resolved: the resolver answered status 2"],
    ["https://broken.example.org/", "broken.example.org could not be resolved: the resolver answered HTTP 500"],
  ])("%j", async (input, reason) => {
    expect(await guardUrl(input, guard(production))).toEqual({ ok: false, reason });
  });
});

describe("public addresses", () => {
  it.each([
    ["8.8.8.8", true],
    ["2606:4700::1111", true],
    ["::ffff:8.8.8.8", true], // as a resolver may print an AAAA record
    ["::ffff:127.0.0.1", false],
    ["10.0.0.1", false],
    ["fd00::1", false],
    ["not-an-ip", false],
    ["1.2.3", false],
    ["1:2:3", false],
    ["fe80::1%eth0", false],
  ])("%s → %s", (ip, publicOrNot) => {
    expect(isPublicAddress(ip)).toBe(publicOrNot);
  });
});
