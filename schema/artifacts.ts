/**
 * Published artifacts across runs: each (tenant, project, name) has versions 1, 2, … assigned when
 * a run that produced it succeeds (identical bytes as the latest version are the same version);
 * each version carries its lineage. A diff of two zip versions names files, never contents.
 */
import { z } from "@hono/zod-openapi";

const ExternalLink = z.object({ id: z.string(), url: z.string() });

/** Where a run's delivery steps put an artifact: a deliver.git step's ids, and the builds of what it pushed. */
export const ArtifactDelivery = z
  .object({
    stepId: z.string().openapi({ description: "the deliver.git step that pushed this artifact" }),
    remoteUrl: z.string(),
    branch: z.string(),
    commitSha: z.string(),
    pullRequest: ExternalLink.nullable(),
    builds: z
      .array(
        z.object({
          stepId: z.string(),
          pipeline: ExternalLink,
          build: ExternalLink.extend({ result: z.string().nullable() }),
        }),
      )
      .openapi({ description: "the deliver.azure-pipeline steps that built the pushed branch" }),
  })
  .openapi("ArtifactDelivery");
export type ArtifactDelivery = z.infer<typeof ArtifactDelivery>;

export const Lineage = z
  .object({
    runId: z.string(),
    stepId: z.string(),
    attempt: z.number().int(),
    jobType: z.string(),
    blueprint: z.string().nullable(),
    traceId: z.string(),
    inputSha256: z.string().nullable().openapi({ description: "sha256 of the step's input (JSON)" }),
    upstream: z
      .array(z.object({ name: z.string(), stepId: z.string(), sha256: z.string() }))
      .openapi({ description: "artifacts of the steps this one depended on, in the same run" }),
    delivered: z.array(ArtifactDelivery).optional().openapi({
      description: "where the run's succeeded delivery steps pushed this artifact (absent when none did)",
    }),
  })
  .openapi("Lineage");
export type Lineage = z.infer<typeof Lineage>;

export const VERSION_STATUSES = ["published", "superseded", "expired"] as const;

export const ArtifactVersion = z
  .object({
    project: z.string(),
    name: z.string(),
    version: z.number().int().min(1),
    status: z.enum(VERSION_STATUSES).openapi({
      description:
        "superseded once a later version is published; expired once its retention after that ended (its bytes are deleted, its record and lineage stay)",
    }),
    sha256: z.string(),
    size: z.number().int(),
    contentType: z.string(),
    publishedAt: z.string().datetime(),
    /** Runs after the first that published the same bytes (deduplicated: no new version). */
    republished: z.number().int(),
    downloadUrl: z
      .string()
      .openapi({ description: "the version's bytes; they stay while the version does, after its run has expired" }),
    lineage: Lineage,
    pinned: z.boolean().openapi({ description: "a pinned version is kept however long ago it was superseded" }),
    expiresAt: z
      .string()
      .datetime()
      .nullable()
      .openapi({ description: "when a superseded, unpinned version's bytes are deleted" }),
    expiredAt: z.string().datetime().nullable(),
  })
  .openapi("ArtifactVersion");
export type ArtifactVersion = z.infer<typeof ArtifactVersion>;

export const ArtifactVersionList = z
  .object({ items: z.array(ArtifactVersion), nextCursor: z.string().nullable() })
  .openapi("ArtifactVersionList");
export type ArtifactVersionList = z.infer<typeof ArtifactVersionList>;

export const ZipEntry = z.object({ path: z.string(), size: z.number().int() });
export const ArtifactDiff = z
  .object({
    name: z.string(),
    from: z.number().int().openapi({ description: "the `against` version" }),
    to: z.number().int(),
    added: z.array(ZipEntry),
    removed: z.array(ZipEntry),
    changed: z.array(z.object({ path: z.string(), sizeFrom: z.number().int(), sizeTo: z.number().int() })),
    unchanged: z.number().int(),
  })
  .openapi("ArtifactDiff");
export type ArtifactDiff = z.infer<typeof ArtifactDiff>;

/** What a succeeded run hands its tenant to publish: each artifact with its lineage. */
export interface PublishedArtifact {
  name: string;
  key: string;
  size: number;
  contentType: string;
  sha256: string;
  lineage: Lineage;
}
