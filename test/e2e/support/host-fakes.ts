/**
 * Loopback stand-ins for the GitHub and Azure DevOps REST APIs that check every request against
 * the documented shape (path, api-version, auth header, body fields) and answer with the
 * documented response shapes. A request that does not fit is answered 400 and recorded in
 * `violations`, so a test fails on it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

export interface HostFake {
  url: string;
  violations: string[];
  /** Requests that fit, as `METHOD path`. */
  calls: string[];
  /** The `traceparent` header of each request, in order ("" when it had none). */
  traceparents: string[];
  pulls: { source: string; target: string; title: string }[];
  pipelines: { id: number; name: string; path: string; repositoryId: string }[];
  runs: { pipelineId: number; refName: string; version?: string }[];
  /**
   * The next request whose `METHOD path` starts with `route` takes effect (a pull request is
   * opened, a run queued) but is never answered, as when the runtime is killed before it hears
   * the answer; the promise settles when that request has arrived.
   */
  holdNext(route: string): Promise<void>;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString();
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

const send = (res: ServerResponse, status: number, json: unknown) =>
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));

/** GitHub REST v3: GET/POST /repos/{owner}/{repo}/pulls, Bearer token, X-GitHub-Api-Version 2022-11-28. */
export async function startGithubFake(token: string, owner: string, repo: string): Promise<HostFake> {
  const fake = base();
  return listen(fake, async (req, res, url) => {
    const problems: string[] = [];
    if (req.headers.authorization !== `Bearer ${token}`) return send(res, 401, { message: "Bad credentials" });
    if (req.headers["x-github-api-version"] !== "2022-11-28") problems.push("X-GitHub-Api-Version");
    if (req.headers.accept !== "application/vnd.github+json") problems.push("Accept");
    if (!req.headers["user-agent"]) problems.push("User-Agent");
    if (url.pathname !== `/repos/${owner}/${repo}/pulls`) problems.push(`path ${url.pathname}`);
    if (problems.length) return reject(fake, res, req, problems);
    if (req.method === "GET") {
      const head = url.searchParams.get("head");
      const found = fake.pulls.filter(
        (p) => `${owner}:${p.source}` === head && p.target === url.searchParams.get("base"),
      );
      if (url.searchParams.get("state") !== "open" || !head?.includes(":")) return reject(fake, res, req, ["query"]);
      fake.calls.push(`GET ${url.pathname}`);
      return send(
        res,
        200,
        found.map((p, i) => pull(fake.url, owner, repo, p, i + 1)),
      );
    }
    const b = await body(req);
    if (typeof b.title !== "string" || typeof b.head !== "string" || typeof b.base !== "string")
      return reject(fake, res, req, ["body needs title, head, base"]);
    if (fake.pulls.some((p) => p.source === b.head && p.target === b.base))
      return send(res, 422, { message: "Validation Failed", errors: [{ message: "A pull request already exists" }] });
    fake.pulls.push({ source: b.head, target: b.base, title: b.title });
    fake.calls.push(`POST ${url.pathname}`);
    if (held(fake, `POST ${url.pathname}`)) return;
    return send(
      res,
      201,
      pull(fake.url, owner, repo, fake.pulls.at(-1) as HostFake["pulls"][number], fake.pulls.length),
    );
  });
}

const pull = (
  origin: string,
  owner: string,
  repo: string,
  p: { source: string; target: string; title: string },
  n: number,
) => ({
  id: 1000 + n,
  number: n,
  state: "open",
  title: p.title,
  html_url: `${origin}/${owner}/${repo}/pull/${n}`,
  head: { ref: p.source },
  base: { ref: p.target },
});

/**
 * Azure DevOps REST 7.1 under /{organization}/{project}/_apis: Git pull requests, Repositories -
 * Get, Pipelines - List / Create, Runs - Run Pipeline. Basic auth with an empty user and the PAT.
 */
export async function startAzureFake(
  pat: string,
  organization: string,
  project: string,
  repo: string,
): Promise<HostFake> {
  const fake = base();
  const repositoryId = "3411ebc1-d5aa-464f-9615-0b527bc66719";
  const prefix = `/${organization}/${project}/_apis`;
  return listen(fake, async (req, res, url) => {
    if (req.headers.authorization !== `Basic ${Buffer.from(`:${pat}`).toString("base64")}`)
      return send(res, 401, { message: "TF400813: The user is not authorized" });
    if (url.searchParams.get("api-version") !== "7.1") return reject(fake, res, req, ["api-version"]);
    const path = url.pathname;
    const web = `${fake.url}/${organization}/${project}`;
    const route = `${req.method} ${path}`;
    if (route === `GET ${prefix}/git/repositories/${repo}/pullrequests`) {
      const q = (k: string) => url.searchParams.get(`searchCriteria.${k}`);
      if (q("status") !== "active" || !q("sourceRefName") || !q("targetRefName"))
        return reject(fake, res, req, ["query"]);
      fake.calls.push(route);
      const value = fake.pulls
        .map((p, i) => ({ p, id: i + 1 }))
        .filter(({ p }) => p.source === q("sourceRefName") && p.target === q("targetRefName"))
        .map(({ id }) => azurePull(web, repo, repositoryId, id));
      return send(res, 200, { value, count: value.length });
    }
    if (route === `POST ${prefix}/git/repositories/${repo}/pullrequests`) {
      const b = await body(req);
      const ref = /^refs\/heads\/.+/;
      if (!ref.test(String(b.sourceRefName)) || !ref.test(String(b.targetRefName)) || typeof b.title !== "string")
        return reject(fake, res, req, ["body needs sourceRefName, targetRefName (refs/heads/…), title"]);
      fake.pulls.push({ source: String(b.sourceRefName), target: String(b.targetRefName), title: b.title });
      fake.calls.push(route);
      if (held(fake, route)) return;
      return send(res, 201, azurePull(web, repo, repositoryId, fake.pulls.length));
    }
    if (route === `GET ${prefix}/git/repositories/${repo}`) {
      fake.calls.push(route);
      return send(res, 200, { id: repositoryId, name: repo, webUrl: `${web}/_git/${repo}` });
    }
    if (route === `GET ${prefix}/pipelines`) {
      fake.calls.push(route);
      const value = fake.pipelines.map((p) => pipelineView(web, p));
      return send(res, 200, { count: value.length, value });
    }
    if (route === `POST ${prefix}/pipelines`) {
      const b = (await body(req)) as { name?: unknown; folder?: unknown; configuration?: Record<string, unknown> };
      const c = b.configuration as { type?: unknown; path?: unknown; repository?: Record<string, unknown> } | undefined;
      if (typeof b.name !== "string" || c?.type !== "yaml" || typeof c.path !== "string")
        return reject(fake, res, req, ["body needs name, configuration.type yaml, configuration.path"]);
      if (c.repository?.id !== repositoryId || c.repository?.type !== "azureReposGit")
        return reject(fake, res, req, ["configuration.repository {id, type: azureReposGit}"]);
      fake.pipelines.push({ id: fake.pipelines.length + 1, name: b.name, path: c.path, repositoryId });
      fake.calls.push(route);
      return send(res, 200, pipelineView(web, fake.pipelines.at(-1) as HostFake["pipelines"][number]));
    }
    const run = new RegExp(`^POST ${prefix}/pipelines/(\\d+)/runs$`).exec(route);
    if (run) {
      const b = (await body(req)) as {
        resources?: { repositories?: { self?: { refName?: unknown; version?: unknown } } };
      };
      const refName = b.resources?.repositories?.self?.refName;
      const version = b.resources?.repositories?.self?.version;
      if (version !== undefined && (typeof version !== "string" || !/^[0-9a-f]{40}$/.test(version)))
        return reject(fake, res, req, ["resources.repositories.self.version is a commit id"]);
      if (typeof refName !== "string" || !refName.startsWith("refs/heads/"))
        return reject(fake, res, req, ["resources.repositories.self.refName"]);
      const pipelineId = Number(run[1]);
      if (!fake.pipelines.some((p) => p.id === pipelineId)) return send(res, 404, { message: "no such pipeline" });
      fake.runs.push({ pipelineId, refName, ...(version ? { version } : {}) });
      fake.calls.push(`POST ${prefix}/pipelines/${pipelineId}/runs`);
      const id = fake.runs.length;
      if (held(fake, `POST ${prefix}/pipelines/${pipelineId}/runs`)) return;
      return send(res, 200, {
        id,
        name: `20261207.${id}`,
        state: "inProgress",
        url: `${fake.url}${prefix}/pipelines/${pipelineId}/runs/${id}`,
        _links: { web: { href: `${web}/_build/results?buildId=${id}` } },
        pipeline: { id: pipelineId },
      });
    }
    if (route === `GET ${prefix}/build/builds`) return listBuilds(fake, req, res, url, web);
    return reject(fake, res, req, [`no such route ${route}`]);
  });
}

/** "Builds - List" filtered by `definitions` and `branchName`: a pipeline's runs are its builds. */
function listBuilds(fake: HostFake, req: IncomingMessage, res: ServerResponse, url: URL, web: string) {
  const definitions = url.searchParams.get("definitions");
  const branchName = url.searchParams.get("branchName");
  if (!definitions || !/^\d+(,\d+)*$/.test(definitions) || !branchName?.startsWith("refs/heads/"))
    return reject(fake, res, req, ["query needs definitions and branchName (refs/heads/…)"]);
  fake.calls.push(`GET ${url.pathname}`);
  const ids = definitions.split(",").map(Number);
  const value = fake.runs
    .map((r, i) => ({ r, id: i + 1 }))
    .filter(({ r }) => ids.includes(r.pipelineId) && r.refName === branchName)
    .map(({ r, id }) => ({
      id,
      buildNumber: `20261207.${id}`,
      status: "inProgress",
      result: null,
      sourceBranch: r.refName,
      sourceVersion: r.version ?? "0".repeat(40),
      definition: { id: r.pipelineId },
      url: `${web}/_apis/build/Builds/${id}`,
      _links: { web: { href: `${web}/_build/results?buildId=${id}` } },
    }));
  return send(res, 200, { count: value.length, value });
}

const azurePull = (web: string, repo: string, repositoryId: string, id: number) => ({
  pullRequestId: id,
  status: "active",
  url: `${web}/_apis/git/repositories/${repositoryId}/pullRequests/${id}`,
  repository: { id: repositoryId, name: repo, webUrl: `${web}/_git/${repo}` },
});

const pipelineView = (web: string, p: HostFake["pipelines"][number]) => ({
  id: p.id,
  name: p.name,
  folder: "\\",
  revision: 1,
  url: `${web}/_apis/pipelines/${p.id}?revision=1`,
  _links: { web: { href: `${web}/_build/definition?definitionId=${p.id}` } },
});

type Holds = { holds?: { route: string; arrived: () => void }[] };

function base(): HostFake {
  const fake: HostFake & Holds = {
    url: "",
    violations: [],
    calls: [],
    traceparents: [],
    pulls: [],
    pipelines: [],
    runs: [],
    holdNext: (route) =>
      new Promise<void>((arrived) => {
        fake.holds = [...(fake.holds ?? []), { route, arrived }];
      }),
    close: async () => undefined,
  };
  return fake;
}

/** Whether this request is one to leave unanswered (see `holdNext`). */
function held(fake: HostFake & Holds, route: string): boolean {
  const at = fake.holds?.findIndex((h) => route.startsWith(h.route)) ?? -1;
  if (at < 0) return false;
  const [hold] = fake.holds?.splice(at, 1) ?? [];
  hold?.arrived();
  return true;
}

function reject(fake: HostFake, res: ServerResponse, req: IncomingMessage, problems: string[]) {
  fake.violations.push(`${req.method} ${req.url}: ${problems.join(", ")}`);
  send(res, 400, { message: problems.join(", ") });
}

async function listen(
  fake: HostFake,
  handle: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<unknown> | unknown,
): Promise<HostFake> {
  const server = createServer((req, res) => {
    fake.traceparents.push(String(req.headers.traceparent ?? ""));
    Promise.resolve(handle(req, res, new URL(req.url ?? "/", "http://localhost"))).catch((err) =>
      send(res, 500, { message: String(err) }),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  fake.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  fake.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections(); // a held request's socket too
    });
  return fake;
}
