/** /v1/admin/tenants/{id}/scanning: a tenant's secret-scanning policies and allow lists (audited). */
import { createRoute, z } from "@hono/zod-openapi";
import { ProjectId, TenantId } from "../../schema/api";
import {
  AllowFingerprintBody,
  AllowList,
  AllowedFingerprint,
  FINGERPRINT,
  ScanPolicyBody,
  ScanSettings,
} from "../../schema/scanning";
import { AppError } from "../errors";
import { JSON_BODY, json, newApi, problemResponses, TOKEN_CALL } from "./common";

const security = [{ admin: [] }];
const TenantParam = z.object({ id: TenantId.openapi({ param: { name: "id", in: "path" } }) });

export const scanning = newApi();

scanning.openapi(
  createRoute({
    method: "get",
    operationId: "getScanSettings",
    path: "/tenants/{id}/scanning",
    summary: "A tenant's secret-scanning policy: its default (block unless set) and per-project policies",
    security,
    request: { params: TenantParam },
    responses: { 200: json(ScanSettings, "the policies"), ...problemResponses(...TOKEN_CALL, "tenant.not_found") },
  }),
  async (c) => {
    const settings = await c.env.TENANT.getByName(c.req.valid("param").id).scanSettings();
    if (!settings) throw new AppError("tenant.not_found");
    return c.json(settings, 200);
  },
);

scanning.openapi(
  createRoute({
    method: "patch",
    operationId: "updateScanSettings",
    path: "/tenants/{id}/scanning",
    summary: "Set the default policy and per-project policies (block or warn; null: the project inherits)",
    security,
    request: {
      params: TenantParam,
      body: { required: true, content: { "application/json": { schema: ScanPolicyBody } } },
    },
    responses: {
      200: json(ScanSettings, "the policies"),
      ...problemResponses(...TOKEN_CALL, ...JSON_BODY, "tenant.not_found"),
    },
  }),
  async (c) => {
    const settings = await c.env.TENANT.getByName(c.req.valid("param").id).setScanPolicy(c.req.valid("json"));
    if (!settings) throw new AppError("tenant.not_found");
    return c.json(settings, 200);
  },
);

scanning.openapi(
  createRoute({
    method: "get",
    operationId: "listAllowedFingerprints",
    path: "/tenants/{id}/scanning/allow",
    summary: "Accepted fingerprints (all projects, or one) and the audit trail of scanning changes",
    security,
    request: { params: TenantParam, query: z.object({ project: ProjectId.optional() }) },
    responses: { 200: json(AllowList, "the allow list"), ...problemResponses(...TOKEN_CALL, "tenant.not_found") },
  }),
  async (c) => {
    const list = await c.env.TENANT.getByName(c.req.valid("param").id).scanAllowList(c.req.valid("query").project);
    if (!list) throw new AppError("tenant.not_found");
    return c.json(list, 200);
  },
);

scanning.openapi(
  createRoute({
    method: "post",
    operationId: "allowFingerprint",
    path: "/tenants/{id}/scanning/allow",
    summary: "Accept a reviewed finding: its fingerprint no longer blocks the project's new runs (audited)",
    security,
    request: {
      params: TenantParam,
      body: { required: true, content: { "application/json": { schema: AllowFingerprintBody } } },
    },
    responses: {
      201: json(AllowedFingerprint, "accepted"),
      ...problemResponses(...TOKEN_CALL, ...JSON_BODY, "tenant.not_found", "scan.allow_list_full"),
    },
  }),
  async (c) => {
    const allowed = await c.env.TENANT.getByName(c.req.valid("param").id).allowFingerprint(c.req.valid("json"));
    if (!allowed) throw new AppError("tenant.not_found");
    if (allowed === "full") throw new AppError("scan.allow_list_full");
    return c.json(allowed, 201);
  },
);

scanning.openapi(
  createRoute({
    method: "delete",
    operationId: "disallowFingerprint",
    path: "/tenants/{id}/scanning/allow/{project}/{fingerprint}",
    summary: "Take a fingerprint off a project's allow list (audited)",
    security,
    request: {
      params: TenantParam.extend({
        project: ProjectId.openapi({ param: { name: "project", in: "path" } }),
        fingerprint: z
          .string()
          .regex(FINGERPRINT)
          .openapi({ param: { name: "fingerprint", in: "path" } }),
      }),
    },
    responses: {
      204: { description: "removed" },
      ...problemResponses(...TOKEN_CALL, "tenant.not_found", "scan.fingerprint_not_found"),
    },
  }),
  async (c) => {
    const { id, project, fingerprint } = c.req.valid("param");
    const gone = await c.env.TENANT.getByName(id).disallowFingerprint(project, fingerprint);
    if (gone === null) throw new AppError("tenant.not_found");
    if (!gone) throw new AppError("scan.fingerprint_not_found");
    return c.body(null, 204);
  },
);
