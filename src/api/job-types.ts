/**
 * /v1/job-types: a tenant's own job types (issue 27), run by its own workers. Each version is
 * immutable: a JSON Schema for input and output, a pool of the tenant's, a timeout, a retry
 * policy and the labels a worker needs. A run pins the version current at its creation
 * (src/control/tenant-jobs.ts). Creating needs `workers:manage`; reading `runs:read` (./auth.ts).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { CreateJobTypeBody, JobTypeVersion } from "../../schema/workers";
import { AppError } from "../errors";
import { reservedNamespace } from "../control/tenant-jobs";
import { schemaProblems } from "../lib/json-schema";
import { WORKER_LIMITS } from "../../schema/workers";
import { JSON_BODY, json, newApi, problemResponses, TENANT_CALL } from "./common";
import { registryOf } from "./pools";

const security = [{ bearer: [] }];

export const jobTypes = newApi();

jobTypes.openapi(
  createRoute({
    method: "post",
    operationId: "createJobType",
    path: "/",
    summary: "Create a job type, or a new version of one (versions are immutable and increase)",
    security,
    request: { body: { required: true, content: { "application/json": { schema: CreateJobTypeBody } } } },
    responses: {
      201: json(JobTypeVersion, "the new version"),
      ...problemResponses(
        ...TENANT_CALL,
        ...JSON_BODY,
        "job_type.reserved",
        "job_type.invalid_schema",
        "job_type.version_conflict",
        "job_type.limit",
        "pool.not_found",
      ),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const namespace = reservedNamespace(body.name);
    if (namespace)
      throw new AppError("job_type.reserved", `'${namespace}.' is one of the runtime's own namespaces.`, {
        errors: [{ path: "name", message: `the namespace '${namespace}' is reserved` }],
      });
    const problems = [...schemaProblems(body.input, "input"), ...schemaProblems(body.output, "output")];
    for (const side of ["input", "output"] as const)
      if (JSON.stringify(body[side]).length > WORKER_LIMITS.schemaBytes)
        problems.push({ path: side, message: `larger than ${WORKER_LIMITS.schemaBytes} bytes` });
    if (problems.length > 0)
      throw new AppError("job_type.invalid_schema", "A schema is not valid JSON Schema (draft-07).", {
        errors: problems,
      });
    const made = await registryOf(c.env, c.get("tenantId")).putJobType(body);
    if ("code" in made) throw AppError.from(made);
    return c.json(made, 201);
  },
);

jobTypes.openapi(
  createRoute({
    method: "get",
    operationId: "listJobTypes",
    path: "/",
    summary: "The tenant's job types, each at its newest version",
    security,
    responses: {
      200: json(z.object({ items: z.array(JobTypeVersion) }), "job types"),
      ...problemResponses(...TENANT_CALL),
    },
  }),
  async (c) => c.json({ items: await registryOf(c.env, c.get("tenantId")).listJobTypes() }, 200),
);

jobTypes.openapi(
  createRoute({
    method: "get",
    operationId: "getJobType",
    path: "/{name}",
    summary: "Every version of one of the tenant's job types, newest first",
    security,
    request: {
      params: z.object({
        name: z
          .string()
          .max(100)
          .openapi({ param: { name: "name", in: "path" }, example: "acme.lint" }),
      }),
    },
    responses: {
      200: json(z.object({ name: z.string(), versions: z.array(JobTypeVersion) }), "its versions"),
      ...problemResponses(...TENANT_CALL, "job_type.not_found"),
    },
  }),
  async (c) => {
    const { name } = c.req.valid("param");
    const versions = await registryOf(c.env, c.get("tenantId")).jobTypeVersions(name);
    if (versions.length === 0) throw new AppError("job_type.not_found", `The tenant has no job type '${name}'.`);
    return c.json({ name, versions }, 200);
  },
);
