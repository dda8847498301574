/**
 * Source tree of a generated microservice: a dependency-free TypeScript HTTP service on
 * node:http with an in-memory store per resource, and node:test tests that start it for real.
 * Pure: a plan in, a file map out.
 */
import type { FileMap, ServicePlan } from "./plan";

export function serviceSource(plan: ServicePlan): FileMap {
  const collections = plan.resources.map((r) => JSON.stringify(r.plural)).join(", ");
  const first = plan.resources[0]!;
  return {
    "package.json": JSON.stringify(
      {
        name: plan.name,
        version: "0.1.0",
        private: true,
        description: plan.description,
        type: "module",
        engines: { node: `>=${plan.nodeVersion}` },
        scripts: {
          build: "tsc -p tsconfig.json",
          start: "node dist/src/server.js",
          test: "tsc -p tsconfig.json && node --test dist/test/app.test.js",
        },
        devDependencies: { "@types/node": "^22.10.0", typescript: "^5.9.3" },
      },
      null,
      2,
    ) + "\n",
    "tsconfig.json": JSON.stringify(
      {
        compilerOptions: {
          target: "es2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          strict: true,
          noUncheckedIndexedAccess: true,
          outDir: "dist",
          rootDir: ".",
          types: ["node"],
          skipLibCheck: true,
        },
        include: ["src", "test"],
      },
      null,
      2,
    ) + "\n",
    ".gitignore": "node_modules/\ndist/\n",
    "src/app.ts": `import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export const SERVICE_NAME = ${JSON.stringify(plan.name)};
export const COLLECTIONS = [${collections}] as const;
const MAX_BODY_BYTES = 64 * 1024;

export interface Entity {
  id: string;
  createdAt: string;
  data: Record<string, unknown>;
}

type Store = Map<string, Map<string, Entity>>;

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** The service as a node:http server; call listen() on it. */
export function createApp(): Server {
  const store: Store = new Map(COLLECTIONS.map((name) => [name, new Map<string, Entity>()]));
  return createServer((req, res) => {
    handle(store, req, res).catch((err: unknown) => {
      if (err instanceof HttpError) return send(res, err.status, problem(err.status, err.code, err.message));
      return send(res, 500, problem(500, "internal", "Internal error"));
    });
  });
}

async function handle(store: Store, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (req.method === "GET" && url.pathname === "/healthz") {
    return send(res, 200, { status: "ok", service: SERVICE_NAME });
  }
  const [version, collection, id, ...rest] = url.pathname.split("/").filter(Boolean);
  const items = collection ? store.get(collection) : undefined;
  if (version !== "v1" || !items || rest.length > 0) throw new HttpError(404, "not_found", "No such route");

  if (id === undefined) {
    if (req.method === "GET") return send(res, 200, { items: [...items.values()] });
    if (req.method === "POST") {
      const data = await readJsonObject(req);
      const entity: Entity = { id: randomUUID(), createdAt: new Date().toISOString(), data };
      items.set(entity.id, entity);
      return send(res, 201, entity);
    }
  } else {
    const entity = items.get(id);
    if (!entity) throw new HttpError(404, "not_found", "No such " + collection + " entry");
    if (req.method === "GET") return send(res, 200, entity);
    if (req.method === "DELETE") {
      items.delete(id);
      res.writeHead(204).end();
      return;
    }
  }
  throw new HttpError(405, "method_not_allowed", "Method not allowed");
}

async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, "too_large", "Body too large");
    chunks.push(chunk as Buffer);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "malformed_json", "Body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "invalid", "Body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

function problem(status: number, code: string, title: string) {
  return { type: "about:blank", status, code, title };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  res.writeHead(status, { "content-type": type }).end(JSON.stringify(body));
}
`,
    "src/server.ts": `import { createApp, SERVICE_NAME } from "./app.js";

const port = Number(process.env.PORT ?? 3000);
createApp().listen(port, () => {
  console.log(JSON.stringify({ msg: "listening", service: SERVICE_NAME, port }));
});
`,
    "test/app.test.ts": `import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { createApp } from "../src/app.js";

const server = createApp();
let base = "";

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = "http://127.0.0.1:" + (server.address() as AddressInfo).port;
});

after(() => {
  server.close();
});

test("GET /healthz answers ok", async () => {
  const res = await fetch(base + "/healthz");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: "ok", service: ${JSON.stringify(plan.name)} });
});

test("a ${first.singular} can be created, read, listed and deleted", async () => {
  const created = await fetch(base + "/v1/${first.plural}", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ label: "first" }),
  });
  assert.equal(created.status, 201);
  const entity = (await created.json()) as { id: string; data: { label: string } };
  assert.equal(entity.data.label, "first");

  const read = await fetch(base + "/v1/${first.plural}/" + entity.id);
  assert.equal(read.status, 200);

  const list = (await (await fetch(base + "/v1/${first.plural}")).json()) as { items: unknown[] };
  assert.equal(list.items.length, 1);

  const removed = await fetch(base + "/v1/${first.plural}/" + entity.id, { method: "DELETE" });
  assert.equal(removed.status, 204);
  assert.equal((await fetch(base + "/v1/${first.plural}/" + entity.id)).status, 404);
});

test("bad input gets a problem, not a crash", async () => {
  const res = await fetch(base + "/v1/${first.plural}", { method: "POST", body: "{not json" });
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { code: string }).code, "malformed_json");
  assert.equal((await fetch(base + "/v1/unknown")).status, 404);
});
`,
  };
}
