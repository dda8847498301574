/**
 * A real Git server for the delivery tests: Debian's `git http-backend` behind a small loopback
 * CGI bridge that requires HTTP Basic auth, serving bare repositories made with the real `git`.
 * `down()` makes it answer 503 (a remote that is down), `up()` brings it back.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bareRepository, GIT_HTTP_BACKEND, git, gitHttpBackend } from "../../../cli/git-remote.ts";

export interface GitServer {
  url: string;
  root: string;
  /** A bare repository at `path` (e.g. `acme/service.git`), with a first commit on `main`. */
  repo(path: string): string;
  /** Runs the real git client with the server's credentials in the URL of `path`. */
  cloneUrl(path: string): string;
  down(): void;
  up(): void;
  /** Requests seen, as `METHOD path?query` (authentication failures included). */
  requests: string[];
  /** The `traceparent` header of each request, in order ("" when it had none). */
  traceparents: string[];
  close(): Promise<void>;
}

export async function startGitServer(credentials: { user: string; password: string }): Promise<GitServer> {
  if (!GIT_HTTP_BACKEND) throw new Error("git http-backend is not installed (apt-get install git)");
  const root = mkdtempSync(join(tmpdir(), "factory-git-"));
  const expected = `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString("base64")}`;
  let isDown = false;
  const requests: string[] = [];
  const traceparents: string[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    traceparents.push(String(req.headers.traceparent ?? ""));
    if (isDown) return res.writeHead(503).end("down");
    if (req.headers.authorization !== expected)
      return res.writeHead(401, { "www-authenticate": 'Basic realm="git"' }).end("unauthorized");
    gitHttpBackend(root, credentials.user, req, res);
  };

  const server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    root,
    requests,
    traceparents,
    repo(path) {
      bareRepository(join(root, path), "CUSTOMER.md", "# The customer's repository\n");
      return `${url}/${path}`;
    },
    cloneUrl: (path) =>
      `http://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/${path}`,
    down: () => {
      isDown = true;
    },
    up: () => {
      isDown = false;
    },
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export { git as runGit };
