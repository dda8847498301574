/**
 * /v1/secrets: a tenant's secrets, write-only. A value is sealed here (src/secrets/crypto.ts)
 * before it leaves the Worker and is never answered, logged or stored in clear; steps reference
 * secrets by name as `{ "$secret": "name" }`. Scope `secrets:manage` (./auth.ts).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { PutSecretBody, SECRET_NAME, SecretView } from "../../schema/secrets";
import type { Env } from "../env";
import { AppError } from "../errors";
import { seal } from "../secrets/crypto";
import { secretRefs } from "../secrets/refs";
import { JSON_BODY, json, newApi, problemResponses, TENANT_CALL } from "./common";

const security = [{ bearer: [] }];
const NameParam = z.object({
  name: z
    .string()
    .max(64)
    .openapi({ param: { name: "name", in: "path" }, example: "azure-pat" }),
});

function secretName(name: string): string {
  if (!SECRET_NAME.test(name))
    throw new AppError("request.invalid", "The secret's name is invalid.", {
      errors: [{ path: "name", message: "lowercase letters, digits, '.', '_' or '-', at most 64" }],
    });
  return name;
}

const secretsOf = (env: Env, tenantId: string) => env.SECRETS.getByName(tenantId);

export const secrets = newApi();

secrets.openapi(
  createRoute({
    method: "put",
    operationId: "putSecret",
    path: "/{name}",
    summary: "Create or replace a secret; its value is never shown again",
    security,
    request: {
      params: NameParam,
      body: { required: true, content: { "application/json": { schema: PutSecretBody } } },
    },
    responses: {
      200: json(SecretView, "replaced"),
      201: json(SecretView, "created"),
      ...problemResponses(...TENANT_CALL, ...JSON_BODY, "secret.limit", "secret.unconfigured"),
    },
  }),
  async (c) => {
    const name = secretName(c.req.valid("param").name);
    const tenantId = c.get("tenantId");
    const sealed = await seal(c.env, tenantId, name, c.req.valid("json").value);
    const stub = secretsOf(c.env, tenantId);
    const put = await stub.put(sealed);
    if (!put.ok) throw new AppError("secret.limit");
    const view = (await stub.list()).find((s) => s.name === name);
    if (!view) throw new AppError("internal");
    return c.json(view, put.created ? 201 : 200);
  },
);

secrets.openapi(
  createRoute({
    method: "get",
    operationId: "listSecrets",
    path: "/",
    summary: "The tenant's secrets: names and times, never values",
    security,
    responses: {
      200: json(z.object({ items: z.array(SecretView) }), "secrets"),
      ...problemResponses(...TENANT_CALL),
    },
  }),
  async (c) => c.json({ items: await secretsOf(c.env, c.get("tenantId")).list() }, 200),
);

secrets.openapi(
  createRoute({
    method: "delete",
    operationId: "deleteSecret",
    path: "/{name}",
    summary: "Delete a secret; runs that reference it fail when their step begins",
    security,
    request: { params: NameParam },
    responses: { 204: { description: "deleted" }, ...problemResponses(...TENANT_CALL, "secret.absent") },
  }),
  async (c) => {
    const name = secretName(c.req.valid("param").name);
    if (!(await secretsOf(c.env, c.get("tenantId")).remove(name))) throw new AppError("secret.absent");
    return c.body(null, 204);
  },
);

/**
 * Refuses a run whose steps reference a secret the tenant does not hold (400 `secret.not_found`).
 * Costs a call to the Secrets object only when some step references a secret.
 */
export async function checkSecretRefs(env: Env, tenantId: string, steps: readonly { input: unknown }[]) {
  const names = new Set<string>();
  for (const s of steps) secretRefs(s.input, names);
  if (names.size === 0) return;
  const missing = await secretsOf(env, tenantId).missing([...names]);
  if (missing.length > 0)
    throw new AppError("secret.not_found", `No secret named ${missing.map((n) => `'${n}'`).join(", ")}.`, {
      errors: missing.map((n) => ({ path: "$secret", message: `no secret '${n}'` })),
    });
}
