/**
 * Writes a step attempt's artifacts to R2, recording size, content type and sha256, after a secret
 * scan under the run's policy: a rejected artifact's bytes are never stored, and the put throws
 * `artifact.secret_detected` (or `artifact.scan_incomplete`) so that the step fails for good.
 */
import { NonRetryableError } from "../errors";
import { sha256Hex } from "../lib/crypto";
import { artifactKey, type ArtifactScope } from "./keys";
import type { Fingerprinter } from "./fingerprint";
import { scanArtifact, type ScanLimits } from "./scan";
import type { Artifact, ArtifactWriter } from "../../schema/run";
import type { RunScanning } from "../../schema/scanning";

export interface WriterScanning extends RunScanning {
  limits?: Partial<ScanLimits>;
}

export function createArtifactWriter(
  bucket: R2Bucket,
  scope: ArtifactScope,
  /** Null only where the caller scans later, before anything is reported (external uploads). */
  scanning: WriterScanning | null,
  fingerprints: Fingerprinter,
): ArtifactWriter & { written: Artifact[]; rejected: Artifact[] } {
  const written: Artifact[] = [];
  const rejected: Artifact[] = [];
  return {
    written,
    rejected,
    async put(name, body, contentType) {
      const key = artifactKey(scope, name);
      const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
      const sha256 = await sha256Hex(bytes);
      let record: Artifact = { name, key, size: bytes.byteLength, contentType, sha256 };
      if (scanning) {
        record = { ...record, ...(await scanFor(fingerprints, record, bytes, scanning)) };
        if (record.status === "rejected") {
          rejected.push(record);
          throw rejection(record);
        }
      }
      // R2 verifies the checksum on write: a truncated upload fails instead of landing.
      await bucket.put(key, bytes, { httpMetadata: { contentType }, sha256, customMetadata: { sha256 } });
      const i = written.findIndex((w) => w.name === name);
      if (i >= 0) written[i] = record;
      else written.push(record);
      return record;
    },
  };
}

/** Scans an artifact under a run's scanning: its status and scan. */
export async function scanFor(
  fingerprints: Fingerprinter,
  artifact: Pick<Artifact, "name" | "contentType">,
  bytes: Uint8Array,
  scanning: WriterScanning,
): Promise<Required<Pick<Artifact, "status" | "scan">>> {
  return scanArtifact(artifact.name, bytes, artifact.contentType, {
    policy: scanning.policy,
    allow: scanning.allow,
    fingerprints,
    ...(scanning.limits ? { limits: scanning.limits } : {}),
  });
}

/** Why a rejected artifact fails its step: rules, files and lines (never the matched text). */
export function rejection(a: Artifact): NonRetryableError {
  const open = (a.scan?.findings ?? []).filter((f) => !f.accepted);
  if (open.length === 0) {
    const first = a.scan?.notScanned.find((n) => n.reason !== "binary");
    return new NonRetryableError(
      "artifact.scan_incomplete",
      `artifact '${a.name}' was not scanned in full${first ? ` (${first.reason}: ${first.file})` : ""}; the block policy rejects it`,
    );
  }
  const where = open
    .slice(0, 5)
    .map((f) => `${f.ruleId} at ${f.file}:${f.line}:${f.column}`)
    .join(", ");
  const more = open.length > 5 ? ` and ${open.length - 5} more` : "";
  return new NonRetryableError(
    "artifact.secret_detected",
    `artifact '${a.name}' holds ${open.length} secret finding(s): ${where}${more}`,
  );
}
