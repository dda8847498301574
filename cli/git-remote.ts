/**
 * A local Git remote for `factory demo --deliver`: a bare repository served over smart HTTP by
 * the real `git http-backend` (Debian's `git` package) behind a loopback bridge that requires
 * HTTP Basic auth, so the delivery step pushes to it exactly as it would to a hosted remote.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export const GIT_HTTP_BACKEND = ["/usr/lib/git-core/git-http-backend", "/usr/libexec/git-core/git-http-backend"].find(
  existsSync,
);

export interface GitRemote {
  /** The repository's URL, for the delivery step (loopback: development runtimes only). */
  url: string;
  /** The bare repository on disk: `git clone` it after the server is gone. */
  path: string;
  close(): Promise<void>;
}

/** The real `git` client, with a fixed identity for the commits it makes. */
export const git = (args: string[], cwd?: string) =>
  execFileSync("git", args, {
    cwd,
    stdio: "pipe",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "demo",
      GIT_AUTHOR_EMAIL: "demo@localhost",
      GIT_COMMITTER_NAME: "demo",
      GIT_COMMITTER_EMAIL: "demo@localhost",
    },
  }).toString();

/** A bare `<root>/<name>.git` with a first commit on `main`, served until `close()`. */
export async function startGitRemote(root: string, name: string, password: string): Promise<GitRemote> {
  if (!GIT_HTTP_BACKEND) throw new Error("git http-backend is not installed (Debian: apt-get install git)");
  const path = join(root, `${name}.git`);
  rmSync(path, { recursive: true, force: true });
  bareRepository(path, "README.md", `# ${name}\n\nThe factory's demo delivers here.\n`);

  const expected = `Basic ${Buffer.from(`factory:${password}`).toString("base64")}`;
  const server = createServer((req, res) => {
    if (req.headers.authorization !== expected)
      return void res.writeHead(401, { "www-authenticate": 'Basic realm="git"' }).end("unauthorized");
    gitHttpBackend(root, "factory", req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/${name}.git`,
    path,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** A bare repository at `path` whose `main` has one commit adding `file`, pushable over HTTP. */
export function bareRepository(path: string, file: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "factory-git-work-"));
  git(["init", "-q", "-b", "main", work]);
  writeFileSync(join(work, file), content);
  git(["add", "."], work);
  git(["commit", "-q", "-m", "initial"], work);
  git(["clone", "-q", "--bare", work, path]);
  git(["config", "http.receivepack", "true"], path);
  rmSync(work, { recursive: true, force: true });
}

/**
 * One request through `git http-backend` (CGI) serving the repositories under `root`: the request
 * body in, its headers and body out. The caller has authenticated `user`.
 */
export function gitHttpBackend(root: string, user: string, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://localhost");
  const child = spawn(GIT_HTTP_BACKEND as string, [], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      REMOTE_USER: user,
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
  let sent = false;
  child.stdout.on("data", (chunk: Buffer) => {
    if (sent) return void res.write(chunk);
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) return;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end).toString().split("\r\n")) {
      const i = line.indexOf(":");
      const name = line.slice(0, i).trim().toLowerCase();
      if (name === "status") status = Number.parseInt(line.slice(i + 1), 10);
      else headers[name] = line.slice(i + 1).trim();
    }
    res.writeHead(status, headers);
    sent = true;
    res.write(head.subarray(end + 4));
  });
  child.on("close", () => res.end());
  child.stderr.on("data", () => undefined);
}
