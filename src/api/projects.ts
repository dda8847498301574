/** /v1/projects/{project}/artifacts: published artifacts across runs, their versions and diffs. */
import { createRoute, z } from "@hono/zod-openapi";
import { ArtifactDiff, ArtifactVersion, ArtifactVersionList } from "../../schema/artifacts";
import { ArtifactName, ProjectId } from "../../schema/api";
import { diffIndexes } from "../artifacts/zip-index";
import { readZipIndex } from "../artifacts/zip-range";
import type { StoredVersion } from "../control/tenant/artifacts";
import { AppError } from "../errors";
import { artifactDownload, json, newApi, problemResponses, TENANT_CALL } from "./common";

const security = [{ bearer: [] }];
const ProjectParam = z.object({ project: ProjectId.openapi({ param: { name: "project", in: "path" } }) });
const NameParam = ProjectParam.extend({ name: ArtifactName.openapi({ param: { name: "name", in: "path" } }) });
const VersionParam = NameParam.extend({
  version: z.coerce
    .number()
    .int()
    .min(1)
    .openapi({ param: { name: "version", in: "path" }, type: "integer" }),
});

const publicView = ({ key: _key, ...v }: StoredVersion): ArtifactVersion => v;

export const projects = newApi();

projects.openapi(
  createRoute({
    method: "get",
    operationId: "listProjectArtifacts",
    path: "/{project}/artifacts",
    summary: "The latest published version of each of a project's artifacts",
    security,
    request: { params: ProjectParam },
    responses: {
      200: json(z.object({ items: z.array(ArtifactVersion) }).openapi("ProjectArtifacts"), "latest versions"),
      ...problemResponses(...TENANT_CALL),
    },
  }),
  async (c) => {
    const items = await c.env.TENANT.getByName(c.get("tenantId")).projectArtifacts(c.req.valid("param").project);
    return c.json({ items: items.map(publicView) }, 200);
  },
);

projects.openapi(
  createRoute({
    method: "get",
    operationId: "listArtifactVersions",
    path: "/{project}/artifacts/{name}/versions",
    summary: "Every published version of an artifact, newest first (cursor-paged)",
    security,
    request: {
      params: NameParam,
      query: z.object({
        limit: z.coerce.number().int().min(1).max(100).default(20),
        cursor: z
          .string()
          .regex(/^v[1-9][0-9]{0,9}$/, "a cursor this API issued")
          .optional(),
      }),
    },
    responses: {
      200: json(ArtifactVersionList, "a page of versions"),
      ...problemResponses(...TENANT_CALL, "artifact.not_found"),
    },
  }),
  async (c) => {
    const { project, name } = c.req.valid("param");
    const { limit, cursor } = c.req.valid("query");
    const before = cursor ? Number(cursor.slice(1)) : undefined;
    const items = await c.env.TENANT.getByName(c.get("tenantId")).artifactVersions(project, name, limit + 1, before);
    if (items.length === 0 && before === undefined) throw new AppError("artifact.not_found");
    const page = items.slice(0, limit);
    const last = page.at(-1);
    return c.json(
      { items: page.map(publicView), nextCursor: items.length > limit && last ? `v${last.version}` : null },
      200,
    );
  },
);

projects.openapi(
  createRoute({
    method: "get",
    operationId: "diffArtifactVersions",
    path: "/{project}/artifacts/{name}/versions/{version}/diff",
    summary: "Files added, removed and changed between two zip versions (names and sizes, never contents)",
    security,
    request: {
      params: VersionParam,
      query: z.object({ against: z.coerce.number().int().min(1).openapi({ type: "integer" }) }),
    },
    responses: {
      200: json(ArtifactDiff, "the diff"),
      ...problemResponses(...TENANT_CALL, "artifact.not_found", "artifact.not_zip"),
    },
  }),
  async (c) => {
    const { project, name, version } = c.req.valid("param");
    const { against } = c.req.valid("query");
    const tenant = c.env.TENANT.getByName(c.get("tenantId"));
    const [to, from] = await Promise.all([
      tenant.artifactVersion(project, name, version),
      tenant.artifactVersion(project, name, against),
    ]);
    if (!to || !from) throw new AppError("artifact.not_found", `No version ${!to ? version : against} of '${name}'.`);
    // Range reads of each zip's central directory only (src/artifacts/zip-range.ts).
    const index = async (v: StoredVersion) => {
      const read = await readZipIndex(c.env.ARTIFACTS, v.key, v.size);
      if (read.ok) return read.entries;
      if (read.reason === "gone") throw new AppError("artifact.not_found", `Version ${v.version}'s bytes are gone.`);
      if (read.reason === "too_large")
        throw new AppError("artifact.not_zip", `Version ${v.version} has too many files to diff.`);
      throw new AppError("artifact.not_zip", `Version ${v.version} is not a zip.`);
    };
    const [toIndex, fromIndex] = await Promise.all([index(to), index(from)]);
    return c.json({ name, from: against, to: version, ...diffIndexes(fromIndex, toIndex) }, 200);
  },
);

projects.openapi(
  createRoute({
    method: "get",
    operationId: "downloadArtifactVersion",
    path: "/{project}/artifacts/{name}/versions/{version}/content",
    summary:
      "Download a published version (streamed from R2); it outlives the run that published it for as long as the retention keeps the version",
    security,
    request: { params: VersionParam },
    responses: {
      200: {
        description: "the version's bytes",
        content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
      },
      ...problemResponses(...TENANT_CALL, "artifact.not_found"),
    },
  }),
  async (c) => {
    const { project, name, version } = c.req.valid("param");
    const v = await c.env.TENANT.getByName(c.get("tenantId")).artifactVersion(project, name, version);
    // An expired version's bytes are gone; its row stays for lineage.
    const object = v && v.status !== "expired" ? await c.env.ARTIFACTS.get(v.key) : null;
    if (!v || !object) throw new AppError("artifact.not_found", `No bytes of version ${version} of '${name}'.`);
    return artifactDownload(object, v);
  },
);

const pinRoute = (method: "put" | "delete") =>
  createRoute({
    method,
    operationId: method === "put" ? "pinArtifactVersion" : "unpinArtifactVersion",
    path: "/{project}/artifacts/{name}/versions/{version}/pin",
    summary:
      method === "put"
        ? "Pin a version: it is kept however long ago it was superseded"
        : "Unpin a version: superseded, it is kept its retention period from now, then its bytes are deleted",
    security,
    request: { params: VersionParam },
    responses: {
      200: json(ArtifactVersion, "the version"),
      ...problemResponses(...TENANT_CALL, "artifact.not_found"),
    },
  });

for (const method of ["put", "delete"] as const)
  projects.openapi(pinRoute(method), async (c) => {
    const { project, name, version } = c.req.valid("param");
    const found = await c.env.TENANT.getByName(c.get("tenantId")).pinVersion(project, name, version, method === "put");
    if (!found) throw new AppError("artifact.not_found", `No version ${version} of '${name}'.`);
    // An expired version's bytes are gone: it cannot be pinned back.
    if (found.status === "expired" && method === "put")
      throw new AppError("artifact.not_found", `Version ${version} of '${name}' expired; its bytes are gone.`);
    return c.json(publicView(found), 200);
  });
