/**
 * A real Git server for the delivery tests: Debian's `git http-backend` behind a small loopback
 * CGI bridge that requires HTTP Basic auth, serving bare repositories made with the real `git`.
 * `down()` makes it answer 503 (a remote that is down), `up()` brings it back.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const BACKEND = ["/usr/lib/git-core/git-http-backend", "/usr/libexec/git-core/git-http-backend"].find(existsSync);

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
  close(): Promise<void>;
}

const git = (args: string[], cwd?: string) =>
  execFileSync("git", args, {
    cwd,
    stdio: "pipe",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@e",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@e",
    },
  }).toString();

export async function startGitServer(credentials: { user: string; password: string }): Promise<GitServer> {
  if (!BACKEND) throw new Error("git http-backend is not installed (apt-get install git)");
  const root = mkdtempSync(join(tmpdir(), "factory-git-"));
  const expected = `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString("base64")}`;
  let isDown = false;
  const requests: string[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (isDown) return res.writeHead(503).end("down");
    if (req.headers.authorization !== expected)
      return res.writeHead(401, { "www-authenticate": 'Basic realm="git"' }).end("unauthorized");
    const child = spawn(BACKEND, [], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        REMOTE_USER: credentials.user,
        REMOTE_ADDR: "127.0.0.1",
        REQUEST_METHOD: req.method ?? "GET",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        ...(req.headers["content-length"] ? { CONTENT_LENGTH: req.headers["content-length"] } : {}),
        ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
        ...(req.headers["content-encoding"] ? { HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"]) } : {}),
      },
    });
    req.pipe(child.stdin);
    let head = Buffer.alloc(0);
    let headersSent = false;
    child.stdout.on("data", (chunk: Buffer) => {
      if (headersSent) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      const lines = head.subarray(0, end).toString().split("\r\n");
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(":");
        const name = line.slice(0, i).trim().toLowerCase();
        const value = line.slice(i + 1).trim();
        if (name === "status") status = Number.parseInt(value, 10);
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      headersSent = true;
      res.write(head.subarray(end + 4));
    });
    child.on("close", () => res.end());
    child.stderr.on("data", () => undefined);
  };

  const server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    root,
    requests,
    repo(path) {
      const bare = join(root, path);
      mkdirSync(dirname(bare), { recursive: true });
      const work = mkdtempSync(join(tmpdir(), "factory-git-work-"));
      git(["init", "-q", "-b", "main", work]);
      writeFileSync(join(work, "CUSTOMER.md"), "# The customer's repository\n");
      git(["add", "."], work);
      git(["commit", "-q", "-m", "initial"], work);
      git(["clone", "-q", "--bare", work, bare]);
      git(["config", "http.receivepack", "true"], bare);
      rmSync(work, { recursive: true, force: true });
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
