/** The spellings of internal targets issue 19 (part 3) found accepted, shared by the unit and API tests. */

/** Refused by the pure check. */
export const INSPECT = { refused: "inspection" } as const;
/** Passes inspection, refused once the name is resolved. */
export const DNS = { refused: "dns" } as const;
/** The canonical URL accepted (what is stored), or a refusal. */
export type Outcome = string | typeof INSPECT | typeof DNS;
/** [input, in production, in development (when it differs)]. */
export type Row = [input: string, production: Outcome, development?: Outcome];

/** Every spelling the issue (#19, part 3) found accepted. */
export const FINDINGS: Row[] = [
  // trailing dots
  ["https://localhost./", INSPECT],
  ["https://sub.localhost./", INSPECT],
  ["https://metadata.google.internal./", INSPECT],
  ["https://metadata./", INSPECT],
  ["https://printer.local./", INSPECT],
  // IPv6 that embeds or routes to internal IPv4, and site-local
  ["https://[::ffff:0:127.0.0.1]/", INSPECT], // SIIT
  ["https://[2002:7f00:1::]/", INSPECT], // 6to4 of 127.0.0.1
  ["https://[2002:a9fe:a9fe::]/", INSPECT], // 6to4 of 169.254.169.254
  ["https://[fec0::1]/", INSPECT], // site-local
  // internal names
  ["https://localhost.localdomain/", INSPECT],
  ["https://kubernetes.default.svc/", INSPECT],
  // public names that resolve to loopback
  ["https://127.0.0.1.nip.io/", DNS],
  ["https://localtest.me/", DNS],
  // development: only http://127.0.0.1 and http://[::1] with a port, as written
  ["http://localhost/", INSPECT],
  ["http://[::1]/", INSPECT],
  ["http://127.1/", INSPECT],
  ["http://2130706433/", INSPECT],
  ["http://0x7f000001/", INSPECT],
  ["http://0177.0.0.1/", INSPECT],
  ["http://127.0.0.1./", INSPECT],
  [" http://127.0.0.1:9411/", INSPECT], // leading space
  ["HTTP://127.0.0.1:9411/", INSPECT, "http://127.0.0.1:9411/"], // upper-case scheme: stored canonical
  ["http://127.0.0.1:9411/\r\nX: 1", INSPECT], // header injection attempt
];
