/**
 * Secret scanning of artifacts: the policy a tenant sets (per project, with a default), what a
 * scan of one artifact found, and the status it gives the artifact. A finding names a rule, a
 * file, a line and a column, and a keyed fingerprint of the matched text — never the text.
 */
import { z } from "@hono/zod-openapi";
import { PROJECT_ID } from "./ids";

// Not api.ts's ProjectId: api.ts builds on this file (an artifact's view holds its scan).
const ProjectId = z.string().regex(PROJECT_ID, "letters, digits, '_', '.', '-'; at most 64; starts alphanumeric");

export const SCAN_POLICIES = ["block", "warn"] as const;
export type ScanPolicy = (typeof SCAN_POLICIES)[number];
export const DEFAULT_SCAN_POLICY: ScanPolicy = "block";

/** What a run scans its artifacts with: fixed when the run is created, like its steps. */
export interface RunScanning {
  policy: ScanPolicy;
  /** Fingerprints the project's allow list accepts (reviewed findings). */
  allow: string[];
}

/**
 * An artifact's place in its lifecycle: `validated` (scanned clean, or its findings accepted or
 * only warned about) or `rejected` (blocked: its bytes were never stored), then `published` once
 * its run has succeeded. `generated` is an artifact recorded before scanning existed.
 */
export const ARTIFACT_STATUSES = ["generated", "validated", "rejected", "published"] as const;
export type ArtifactStatus = (typeof ARTIFACT_STATUSES)[number];

/** How far a scan got: every byte (`complete`) or not (`partial`: see `notScanned`). */
export const SCAN_STATES = ["complete", "partial"] as const;

export const FINGERPRINT = /^fp_[0-9a-f]{32}$/;

export const Finding = z
  .object({
    ruleId: z.string().openapi({ example: "@secretlint/secretlint-rule-aws" }),
    file: z.string().openapi({ description: "the file inside a zip, or the artifact's own name" }),
    line: z.number().int().min(1),
    column: z.number().int().min(1),
    fingerprint: z
      .string()
      .regex(FINGERPRINT)
      .openapi({ description: "keyed per tenant (HKDF of FINGERPRINT_KEY); never the secret" }),
    accepted: z.boolean().openapi({ description: "on the project's allow list" }),
  })
  .openapi("Finding");
export type Finding = z.infer<typeof Finding>;

export const NotScanned = z.object({
  file: z.string(),
  reason: z.enum([
    "binary",
    "too_large",
    "byte_budget",
    "time_budget",
    "file_budget",
    "zip_unreadable",
    "zip_bomb",
    "nesting_depth",
    "archive_unsupported",
  ]),
});
export type NotScanned = z.infer<typeof NotScanned>;

export const ArtifactScan = z
  .object({
    state: z.enum(SCAN_STATES),
    policy: z.enum(SCAN_POLICIES),
    files: z.number().int().openapi({ description: "text files scanned" }),
    bytes: z.number().int().openapi({ description: "bytes scanned" }),
    durationMs: z.number(),
    findings: z.array(Finding).openapi({ description: "at most 100; `findingsCount` counts them all" }),
    findingsCount: z.number().int(),
    /** Anything listed here makes the scan partial (`binary` only in scans made before 2026-12). */
    notScanned: z.array(NotScanned).openapi({ description: "at most 100" }),
    notScannedCount: z.number().int(),
  })
  .openapi("ArtifactScan");
export type ArtifactScan = z.infer<typeof ArtifactScan>;

export const ScanPolicyBody = z
  .object({
    policy: z.enum(SCAN_POLICIES).optional().openapi({ description: "the tenant's default (block when never set)" }),
    projects: z
      .record(ProjectId, z.enum(SCAN_POLICIES).nullable())
      .optional()
      .openapi({ description: "per project; null removes a project's own policy" }),
  })
  .strict()
  .openapi("ScanPolicyBody");
export type ScanPolicyBody = z.infer<typeof ScanPolicyBody>;

export const ScanSettings = z
  .object({
    policy: z.enum(SCAN_POLICIES),
    projects: z.record(z.string(), z.enum(SCAN_POLICIES)),
  })
  .openapi("ScanSettings");
export type ScanSettings = z.infer<typeof ScanSettings>;

export const AllowFingerprintBody = z
  .object({
    project: ProjectId,
    fingerprint: z.string().regex(FINGERPRINT, "a finding's fingerprint, fp_ and 32 hex digits"),
    reason: z.string().min(1).max(500).openapi({ description: "why the finding is accepted (audited)" }),
  })
  .strict()
  .openapi("AllowFingerprintBody");
export type AllowFingerprintBody = z.infer<typeof AllowFingerprintBody>;

export const AllowedFingerprint = z
  .object({
    project: z.string(),
    fingerprint: z.string(),
    reason: z.string(),
    createdAt: z.string().datetime(),
  })
  .openapi("AllowedFingerprint");
export type AllowedFingerprint = z.infer<typeof AllowedFingerprint>;

/** The audit trail of scanning settings: every change, who asked (admin) and when. */
export const ScanAuditEntry = z
  .object({
    at: z.string().datetime(),
    action: z.enum(["policy.set", "allow.add", "allow.remove"]),
    project: z.string().nullable(),
    detail: z.string(),
  })
  .openapi("ScanAuditEntry");
export type ScanAuditEntry = z.infer<typeof ScanAuditEntry>;

export const AllowList = z
  .object({ items: z.array(AllowedFingerprint), audit: z.array(ScanAuditEntry) })
  .openapi("AllowList");
