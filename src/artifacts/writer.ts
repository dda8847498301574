/** Writes a step attempt's artifacts to R2, recording size, content type and sha256. */
import type { ArtifactWriter } from "../data/job";
import { sha256Hex } from "../lib/crypto";
import { artifactKey, type ArtifactScope } from "./keys";
import type { Artifact } from "../../schema/run";

export function createArtifactWriter(bucket: R2Bucket, scope: ArtifactScope): ArtifactWriter & { written: Artifact[] } {
  const written: Artifact[] = [];
  return {
    written,
    async put(name, body, contentType) {
      const key = artifactKey(scope, name);
      const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
      const sha256 = await sha256Hex(bytes);
      // R2 verifies the checksum on write: a truncated upload fails instead of landing.
      await bucket.put(key, bytes, { httpMetadata: { contentType }, sha256, customMetadata: { sha256 } });
      const record: Artifact = { name, key, size: bytes.byteLength, contentType, sha256 };
      const i = written.findIndex((w) => w.name === name);
      if (i >= 0) written[i] = record;
      else written.push(record);
      return record;
    },
  };
}
