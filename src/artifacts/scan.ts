/**
 * Secret scanning of one artifact, in the data plane before the artifact is reported: secretlint's
 * recommended rule set (AWS, GCP, GitHub, Slack, npm, private keys, basic auth, connection
 * strings, OpenAI/Anthropic, …) plus a high-entropy check of `password=`/`secret:` assignments.
 * A zip is scanned file by file; binary files are skipped by sniffing; bytes, files and time are
 * bounded, and whatever was not scanned is listed. Findings keep a salted fingerprint of the
 * matched text, never the text.
 */
import { unzipSync } from "fflate";
import type { ArtifactScan, ArtifactStatus, Finding, NotScanned, ScanPolicy } from "../../schema/scanning";
import { findHighEntropyAssignments, HIGH_ENTROPY_RULE } from "./entropy";

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
  /** Fingerprints are HMACs under this salt (per tenant): equal secrets of two tenants do not match. */
  salt: string;
  limits?: Partial<ScanLimits>;
}

export interface ScanOutcome {
  status: Extract<ArtifactStatus, "validated" | "rejected">;
  scan: ArtifactScan;
}

const MAX_LISTED = 100;
const BOMB_FLOOR = 1024 * 1024;

/**
 * secretlint, loaded on the first text file an isolate scans: an isolate that never scans (a
 * control-plane object, a pool whose jobs write no artifacts) never evaluates its rule set.
 */
let secretlint: Promise<typeof import("./secretlint")> | undefined;

/** Scans an artifact's bytes and decides its status under the policy. */
export async function scanArtifact(
  name: string,
  bytes: Uint8Array,
  contentType: string,
  options: ScanOptions,
): Promise<ScanOutcome> {
  const limits = { ...SCAN_LIMITS, ...options.limits };
  const started = performance.now();
  const allow = new Set(options.allow);
  const findings: Finding[] = [];
  const notScanned: NotScanned[] = [];
  let partial = false;
  let files = 0;
  let scannedBytes = 0;
  const skip = (file: string, reason: NotScanned["reason"]) => {
    notScanned.push({ file, reason });
    if (reason !== "binary") partial = true;
  };

  const scanText = async (file: string, data: Uint8Array) => {
    const text = decodeText(data);
    if (text === null) return skip(file, "binary");
    files++;
    scannedBytes += data.byteLength;
    for (const hit of await findSecrets(file, text)) {
      const fingerprint = await fingerprintOf(options.salt, hit.ruleId, hit.secret);
      findings.push({
        ruleId: hit.ruleId,
        file,
        line: hit.line,
        column: hit.column,
        fingerprint,
        accepted: allow.has(fingerprint),
      });
    }
  };

  if (isZip(name, contentType, bytes)) {
    const entries = planZip(bytes, limits, skip);
    if (entries) {
      let files_: Record<string, Uint8Array> = {};
      try {
        // Only the planned entries are inflated, each into a buffer of its declared size: a
        // header that lies about its size cannot make the output grow past it.
        files_ = unzipSync(bytes, { filter: (f) => entries.has(f.name) });
      } catch {
        skip(name, "zip_unreadable");
      }
      for (const [file, data] of Object.entries(files_)) {
        if (performance.now() - started > limits.timeMs) {
          skip(file, "time_budget");
          continue;
        }
        await scanText(file, data);
      }
    }
  } else if (bytes.byteLength > limits.fileBytes) {
    skip(name, "too_large");
  } else {
    await scanText(name, bytes);
  }

  const open = findings.filter((f) => !f.accepted).length;
  const scan: ArtifactScan = {
    state: partial ? "partial" : "complete",
    policy: options.policy,
    files,
    bytes: scannedBytes,
    durationMs: Math.round((performance.now() - started) * 100) / 100,
    findings: findings.slice(0, MAX_LISTED),
    findingsCount: findings.length,
    notScanned: notScanned.slice(0, MAX_LISTED),
    notScannedCount: notScanned.length,
  };
  // Under `block`, an artifact not scanned in full is not validated: it is rejected with the rest.
  const blocked = options.policy === "block" && (open > 0 || partial);
  return { status: blocked ? "rejected" : "validated", scan };
}

/** The entries of a zip to inflate, within the limits; the rest go to `skip`. Null: unreadable. */
function planZip(
  bytes: Uint8Array,
  limits: ScanLimits,
  skip: (file: string, reason: NotScanned["reason"]) => void,
): Set<string> | null {
  const planned = new Set<string>();
  let budget = limits.bytes;
  try {
    unzipSync(bytes, {
      filter: (f) => {
        if (f.name.endsWith("/")) return false; // a directory entry
        if (f.originalSize > BOMB_FLOOR && f.originalSize > f.size * limits.ratio) skip(f.name, "zip_bomb");
        else if (f.originalSize > limits.fileBytes) skip(f.name, "too_large");
        else if (planned.size >= limits.files) skip(f.name, "file_budget");
        else if (f.originalSize > budget) skip(f.name, "byte_budget");
        else {
          planned.add(f.name);
          budget -= f.originalSize;
        }
        return false;
      },
    });
  } catch {
    skip("(zip)", "zip_unreadable");
    return null;
  }
  return planned;
}

function isZip(name: string, contentType: string, bytes: Uint8Array): boolean {
  const magic =
    bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5) && bytes[3] === bytes[2] + 1;
  return magic || (contentType === "application/zip" && bytes.byteLength > 0) || (name.endsWith(".zip") && magic);
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** UTF-8 text, or null for binary: a NUL byte in the first 8 KiB, or bytes that are not UTF-8. */
export function decodeText(data: Uint8Array): string | null {
  if (data.subarray(0, 8192).includes(0)) return null;
  try {
    return decoder.decode(data);
  } catch {
    return null;
  }
}

interface Hit {
  ruleId: string;
  line: number;
  column: number;
  secret: string;
}

async function findSecrets(file: string, content: string): Promise<Hit[]> {
  secretlint ??= import("./secretlint");
  const result = await (await secretlint).lint(file, content, extOf(file));
  const hits: Hit[] = result.messages
    .filter((m) => m.type === "message")
    .map((m) => ({
      ruleId: m.ruleId,
      line: m.loc.start.line,
      column: m.loc.start.column + 1,
      secret: content.slice(m.range[0], m.range[1]),
    }));
  // A value the maintained rules named already is not reported twice.
  const lines = new Set(hits.map((h) => h.line));
  for (const h of findHighEntropyAssignments(content))
    if (!lines.has(h.line)) hits.push({ ruleId: HIGH_ENTROPY_RULE, ...h });
  return hits;
}

function extOf(file: string): string {
  const base = file.slice(file.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot) : "";
}

const encoder = new TextEncoder();

/** `fp_` + 32 hex digits of HMAC-SHA256(salt, rule id ‖ secret). */
export async function fingerprintOf(salt: string, ruleId: string, secret: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(salt), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(`${ruleId}\0${secret}`)));
  let hex = "";
  for (const b of mac.subarray(0, 16)) hex += b.toString(16).padStart(2, "0");
  return `fp_${hex}`;
}

/** The salt of a tenant's fingerprints. */
export const fingerprintSalt = (tenantId: string) => `factory-artifact-fingerprint:v1:${tenantId}`;
