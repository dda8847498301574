/**
 * A DNS-over-HTTPS resolver for tests: a real HTTP server on loopback answering the JSON API
 * (`GET ?name=…&type=A|AAAA`, `accept: application/dns-json`) that cloudflare-dns.com and
 * dns.google speak, from a table of names. The Worker under test points `DOH_URL` at it.
 * Lives with the e2e support because it runs in Node; vitest.config.ts starts one for the
 * tests inside workerd.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** What a name answers. Unknown names are NXDOMAIN. */
export interface Records {
  a?: string[];
  aaaa?: string[];
  /** Answer a CNAME to this name, followed by its records (as recursive resolvers do). */
  cname?: string;
  ttl?: number;
  /** A DNS failure (2 = SERVFAIL) instead of records. */
  status?: number;
  /** An HTTP failure of the resolver itself. */
  httpStatus?: number;
}

const PUBLIC = { a: ["93.184.215.14"], aaaa: ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"] };

/** The names the workerd tests resolve (test/unit/ssrf.test.ts and the API tests). */
export const TEST_RECORDS: Record<string, Records> = {
  "example.com": PUBLIC,
  "*.example.com": PUBLIC,
  "*.example.net": PUBLIC,
  "cname.example.org": { cname: "hooks.example.com" },
  "cname-private.example.org": { cname: "db.corp.example.org" },
  "db.corp.example.org": { a: ["10.0.0.5"] },
  "mixed.example.org": { a: ["8.8.8.8", "10.0.0.1"] },
  "v6only.example.org": { aaaa: ["2606:4700::1111"] },
  "v6private.example.org": { a: ["8.8.8.8"], aaaa: ["fd00::1"] },
  "mapped.example.org": { aaaa: ["::ffff:127.0.0.1"] },
  "metadata.example.org": { a: ["169.254.169.254"] },
  "garbage.example.org": { a: ["not-an-ip"] },
  "empty.example.org": {},
  "servfail.example.org": { status: 2 },
  "broken.example.org": { httpStatus: 500 },
  "short-ttl.example.org": { a: ["8.8.8.8"], ttl: 0 },
  "long-ttl.example.org": { a: ["8.8.8.8"], ttl: 86_400 },
  "localtest.me": { a: ["127.0.0.1"], aaaa: ["::1"] },
  "*.localtest.me": { a: ["127.0.0.1"], aaaa: ["::1"] },
};

const TYPE = { A: 1, AAAA: 28, CNAME: 5 } as const;

export interface DohServer {
  /** The resolver URL to give the Worker as DOH_URL. */
  url: string;
  /** Replaces what a name answers (e.g. to rebind it to a private address). */
  set(name: string, records: Records): void;
  /** How many queries were answered for a name (to see the Worker's cache at work); also GET /queries?name=. */
  queries(name: string): number;
  close(): Promise<void>;
}

export async function startDohServer(initial: Record<string, Records> = TEST_RECORDS): Promise<DohServer> {
  const table = new Map(Object.entries(initial));
  const counts = new Map<string, number>();

  const lookup = (name: string): Records | undefined => {
    if (table.has(name)) return table.get(name);
    // nip.io semantics: a.b.c.d.nip.io answers a.b.c.d.
    const nip = /^(?:.*[.-])?(\d{1,3}(?:[.-]\d{1,3}){3})\.nip\.io$/.exec(name);
    if (nip) return { a: [nip[1]!.replaceAll("-", ".")] };
    for (let at = name.indexOf("."); at >= 0; at = name.indexOf(".", at + 1)) {
      const wildcard = table.get(`*${name.slice(at)}`);
      if (wildcard) return wildcard;
    }
    return undefined;
  };

  const answer = (name: string, type: number, depth = 0): { status: number; http?: number; answers: object[] } => {
    const records = lookup(name);
    if (!records) return { status: 3, answers: [] };
    if (records.httpStatus) return { status: 0, http: records.httpStatus, answers: [] };
    if (records.status) return { status: records.status, answers: [] };
    const ttl = records.ttl ?? 60;
    if (records.cname && depth < 8) {
      const rest = answer(records.cname, type, depth + 1);
      return {
        ...rest,
        answers: [{ name: `${name}.`, type: TYPE.CNAME, TTL: ttl, data: `${records.cname}.` }, ...rest.answers],
      };
    }
    const data = type === TYPE.A ? (records.a ?? []) : (records.aaaa ?? []);
    return { status: 0, answers: data.map((d) => ({ name: `${name}.`, type, TTL: ttl, data: d })) };
  };

  const server: Server = createServer((req, res) => {
    const { pathname, searchParams: params } = new URL(req.url ?? "/", "http://resolver");
    const name = (params.get("name") ?? "").toLowerCase().replace(/\.$/, "");
    // Not DNS: lets tests inside workerd see how often a name was asked for (the Worker's cache).
    if (pathname === "/queries")
      return void res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ count: counts.get(name) ?? 0 }));
    const type = params.get("type") === "AAAA" ? TYPE.AAAA : TYPE.A;
    counts.set(name, (counts.get(name) ?? 0) + 1);
    if (req.headers.accept !== "application/dns-json") return void res.writeHead(415).end();
    const result = answer(name, type);
    if (result.http) return void res.writeHead(result.http).end("resolver trouble");
    res.writeHead(200, { "content-type": "application/dns-json" });
    res.end(
      JSON.stringify({
        Status: result.status,
        TC: false,
        RD: true,
        RA: true,
        AD: false,
        CD: false,
        Question: [{ name: `${name}.`, type }],
        Answer: result.answers,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  // The server must not keep a test process alive by itself.
  server.unref();

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dns-query`,
    set: (name, records) => void table.set(name, records),
    queries: (name) => counts.get(name) ?? 0,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
