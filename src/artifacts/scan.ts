/**
 * Secret scanning of one artifact, in the data plane before the artifact is reported: secretlint's
 * recommended rule set (AWS, GCP, GitHub, Slack, npm, private keys, basic auth, connection
 * strings, OpenAI/Anthropic, …) plus a high-entropy check of `password=`/`secret:` assignments.
 * A zip is scanned entry by entry (see ./archive.ts), nested archives too, three deep; entry names
 * are scanned; an undecodable file is scanned in its printable runs. Bytes, files and time are
 * bounded, and whatever was not scanned is listed and makes the scan partial. Findings keep a
 * keyed fingerprint of the matched text, never the text.
 */
import type { ArtifactScan, ArtifactStatus, Finding, NotScanned, ScanPolicy } from "../../schema/scanning";
import { gzipSize, isGzipMagic, isUnsupportedArchive, isZipMagic, readGzip, readZipEntry, zipEntries } from "./archive";
import type { Fingerprinter } from "./fingerprint";
import { findSecrets, type Hit } from "./rules";

export interface ScanLimits {
  /** Decompressed bytes scanned per artifact. */
  bytes: number;
  /** Largest single file scanned. */
  fileBytes: number;
  files: number;
  timeMs: number;
  /** A zip entry inflating more than this many times its compressed size is a bomb (past 1 MiB). */
  ratio: number;
}

export const SCAN_LIMITS: ScanLimits = {
  bytes: 32 * 1024 * 1024,
  fileBytes: 4 * 1024 * 1024,
  files: 5_000,
  timeMs: 5_000,
  ratio: 200,
};

export interface ScanOptions {
  policy: ScanPolicy;
  /** Accepted fingerprints (the project's allow list). */
  allow: readonly string[];
  /** Keyed per tenant: equal secrets of two tenants do not match, and no reader can test a guess. */
  fingerprints: Fingerprinter;
  limits?: Partial<ScanLimits>;
}

export interface ScanOutcome {
  status: Extract<ArtifactStatus, "validated" | "rejected">;
  scan: ArtifactScan;
}

const MAX_LISTED = 100;
const BOMB_FLOOR = 1024 * 1024;

/** Scans an artifact's bytes and decides its status under the policy. */
export async function scanArtifact(
  name: string,
  bytes: Uint8Array,
  contentType: string,
  options: ScanOptions,
): Promise<ScanOutcome> {
  const limits = { ...SCAN_LIMITS, ...options.limits };
  const run: ScanRun = {
    limits,
    options,
    started: performance.now(),
    allow: new Set(options.allow),
    findings: [],
    notScanned: [],
    partial: false,
    files: 0,
    scannedBytes: 0,
    budget: limits.bytes,
    masks: [],
  };
  if (isZip(name, contentType, bytes)) await scanZip(run, "", name, bytes, 0);
  else if (bytes.byteLength > limits.fileBytes && !isGzipMagic(bytes)) skip(run, name, "too_large");
  else await scanBlob(run, name, bytes, 0);

  const { partial } = run;
  // A secret found in an entry name is not repeated in the paths the scan reports.
  const mask = (file: string) => run.masks.reduce((f, secret) => f.replaceAll(secret, "[REDACTED]"), file);
  const findings = run.findings.map((f) => ({ ...f, file: mask(f.file) }));
  const notScanned = run.notScanned.map((n) => ({ ...n, file: mask(n.file) }));
  const open = findings.filter((f) => !f.accepted).length;
  const scan: ArtifactScan = {
    state: partial ? "partial" : "complete",
    policy: options.policy,
    files: run.files,
    bytes: run.scannedBytes,
    durationMs: Math.round((performance.now() - run.started) * 100) / 100,
    findings: findings.slice(0, MAX_LISTED),
    findingsCount: findings.length,
    notScanned: notScanned.slice(0, MAX_LISTED),
    notScannedCount: notScanned.length,
  };
  // Under `block`, an artifact not scanned in full is not validated: it is rejected with the rest.
  const blocked = options.policy === "block" && (open > 0 || partial);
  return { status: blocked ? "rejected" : "validated", scan };
}

/** One artifact's scan in progress: what it found, what it could not scan, what budget is left. */
interface ScanRun {
  limits: ScanLimits;
  options: ScanOptions;
  started: number;
  allow: Set<string>;
  findings: Finding[];
  notScanned: NotScanned[];
  partial: boolean;
  files: number;
  scannedBytes: number;
  /** Decompressed bytes still to spend, across every level of nesting. */
  budget: number;
  /** Secrets found in entry names. */
  masks: string[];
}

/** Whatever is not scanned is listed, and makes the scan partial: nothing is skipped on purpose. */
function skip(run: ScanRun, file: string, reason: NotScanned["reason"]) {
  run.notScanned.push({ file, reason });
  run.partial = true;
}

/** Archives nest at most this deep (the artifact itself is depth 0); deeper ones are not opened. */
const MAX_DEPTH = 3;

/** A file's bytes: an archive is opened (within the depth), anything else is scanned as text. */
async function scanBlob(run: ScanRun, file: string, data: Uint8Array, depth: number): Promise<void> {
  if (isZipMagic(data) || isGzipMagic(data) || isUnsupportedArchive(data)) {
    if (depth >= MAX_DEPTH) return skip(run, file, "nesting_depth");
    if (isUnsupportedArchive(data)) return skip(run, file, "archive_unsupported");
    if (isZipMagic(data)) return scanZip(run, `${file}!/`, file, data, depth);
    const size = gzipSize(data);
    if (size > run.budget) return skip(run, file, "byte_budget");
    if (size > BOMB_FLOOR && size > data.byteLength * run.limits.ratio) return skip(run, file, "zip_bomb");
    const inner = readGzip(data);
    if (inner === "unreadable") return skip(run, file, "zip_unreadable");
    run.budget -= size;
    return scanBlob(
      run,
      file.replace(/\.(?:t?gz)$/i, (m) => (m.toLowerCase() === ".tgz" ? ".tar" : "")),
      inner,
      depth + 1,
    );
  }
  return scanText(run, file, data);
}

/**
 * Every entry of a zip, in central-directory order (duplicates included), and the entries' names;
 * `prefix` names the entries of a nested zip after the archive that holds them (`outer.zip!/a.txt`).
 */
async function scanZip(run: ScanRun, prefix: string, file: string, bytes: Uint8Array, depth: number): Promise<void> {
  const entries = zipEntries(bytes);
  if (!entries) return skip(run, file, "zip_unreadable");
  await scanNames(
    run,
    entries.map((e) => `${prefix}${e.name}`),
  );
  const { limits } = run;
  for (const e of entries) {
    const path = `${prefix}${e.name}`;
    if (performance.now() - run.started > limits.timeMs) skip(run, path, "time_budget");
    else if (e.size > BOMB_FLOOR && e.size > e.compressedSize * limits.ratio) skip(run, path, "zip_bomb");
    else if (e.size > limits.fileBytes && !archiveName(e.name)) skip(run, path, "too_large");
    else if (run.files >= limits.files) skip(run, path, "file_budget");
    else if (e.size > run.budget) skip(run, path, "byte_budget");
    else {
      const data = readZipEntry(bytes, e);
      if (data === "unreadable") {
        skip(run, path, "zip_unreadable");
        continue;
      }
      run.budget -= e.size;
      await scanBlob(run, path, data, depth + 1);
    }
  }
}

/** An archive may be larger than one text file: its entries are bounded one by one. */
const archiveName = (name: string) => /\.(?:zip|jar|war|ear|apk|aar|whl|nupkg|gz|tgz)$/i.test(name);

/** Entry names can carry a secret too (`keys/AKIA….txt`): scanned together, one name a line. */
async function scanNames(run: ScanRun, names: string[]) {
  if (names.length === 0) return;
  const text = names.join("\n");
  for (const hit of await findSecrets("(entry names)", text)) {
    const name = names[hit.line - 1] ?? "(entry names)";
    run.masks.push(hit.secret);
    await record(run, name, { ...hit, line: 1 });
  }
}

async function scanText(run: ScanRun, file: string, data: Uint8Array) {
  if (data.byteLength > run.limits.fileBytes) return skip(run, file, "too_large");
  // Undecodable bytes are scanned in their printable runs, as `strings` would read them.
  const text = decodeText(data) ?? printableRuns(data);
  run.files++;
  run.scannedBytes += data.byteLength;
  for (const hit of await findSecrets(file, text)) await record(run, file, hit);
}

async function record(run: ScanRun, file: string, hit: Hit) {
  const fingerprint = await run.options.fingerprints.current(hit.ruleId, hit.secret);
  // An allow list written before v2 holds v1 fingerprints: they still accept (never shown).
  const accepted =
    run.allow.has(fingerprint) ||
    (run.allow.size > 0 && run.allow.has(await run.options.fingerprints.legacy(hit.ruleId, hit.secret)));
  run.findings.push({
    ruleId: hit.ruleId,
    file,
    line: hit.line,
    column: hit.column,
    fingerprint,
    accepted,
  });
}

function isZip(_name: string, contentType: string, bytes: Uint8Array): boolean {
  return isZipMagic(bytes) || (contentType === "application/zip" && bytes.byteLength > 0);
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * The printable runs of undecodable bytes, as `strings` reads them: a run of at least
 * MIN_RUN printable ASCII bytes (tabs and line breaks included) is kept in place; every other
 * byte becomes a space, so lines and columns still point into the file and no two runs join.
 */
export function printableRuns(data: Uint8Array): string {
  const out = new Uint8Array(data.byteLength).fill(0x20);
  let start = 0;
  for (let i = 0; i <= data.byteLength; i++) {
    const b = i < data.byteLength ? (data[i] as number) : 0;
    if ((b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    if (i - start >= MIN_RUN) out.set(data.subarray(start, i), start);
    else for (let j = start; j < i; j++) if (data[j] === 0x0a) out[j] = 0x0a; // keep line numbers
    start = i + 1;
  }
  return ascii.decode(out);
}

/** The shortest run kept: shorter ones are noise in binary data, and no rule matches so little. */
const MIN_RUN = 8;
const ascii = new TextDecoder();

/** UTF-8 text, or null for binary: a NUL byte in the first 8 KiB, or bytes that are not UTF-8. */
export function decodeText(data: Uint8Array): string | null {
  if (data.subarray(0, 8192).includes(0)) return null;
  try {
    return decoder.decode(data);
  } catch {
    return null;
  }
}
