/**
 * A generated repository onto a Git remote, over smart HTTP, with isomorphic-git on an in-memory
 * file system: no pack or protocol code of ours. Idempotent: the commit is deterministic (the
 * same files on the same base, with the artifact's time as the commit's), the branch is looked up
 * before anything is pushed, and a branch that already holds this tree is taken as delivered.
 */
import git from "isomorphic-git";
import http from "isomorphic-git/http/web";
import { AppError, NonRetryableError } from "../../../errors";
import { type ExternalCall, untraced } from "../../../lib/trace";
import { memoryFs } from "./memfs";

/** One smart-HTTP exchange as a `factory.external.git` span, its traceparent sent with it. */
type Traced = <T>(exchange: (headers: Record<string, string>) => Promise<T>) => Promise<T>;

export interface PushRequest {
  url: string;
  username: string;
  password: string;
  branch: string;
  /** The branch the new one starts from; the remote's default when absent; none on an empty remote. */
  baseBranch: string | undefined;
  files: ReadonlyMap<string, Uint8Array>;
  message: string;
  /** The attempt's tracer (JobContext.external). */
  external?: ExternalCall;
  author: { name: string; email: string; timestamp: number };
  force: boolean;
}

export interface PushResult {
  commitSha: string;
  /** Null when the remote had no branch to start from (an empty repository). */
  baseBranch: string | null;
  /** False when the branch already held this delivery (a retried attempt). */
  pushed: boolean;
}

const DIR = "/repo";

/** Maps what the Git client threw to our codes: bad credentials are final, an unreachable remote is retried. */
export function gitFailure(err: unknown, authFailed: boolean): AppError {
  if (err instanceof AppError) return err;
  const e = err as { code?: string; data?: { statusCode?: number }; message?: string };
  const status = e.data?.statusCode;
  if (authFailed || e.code === "UserCanceledError" || status === 401 || status === 403)
    return new NonRetryableError("delivery.auth_failed", "the remote refused the credentials");
  // No code: fetch itself failed (refused connection, reset, DNS); 5xx and 429: the remote is unwell.
  const unreachable = e.code === undefined || e.code === "SmartHttpError";
  if (unreachable || (status !== undefined && (status >= 500 || status === 429)))
    return new AppError("delivery.remote_unavailable", `the remote could not be reached: ${e.message ?? String(err)}`);
  return new NonRetryableError("delivery.remote_refused", `the remote refused: ${e.message ?? String(err)}`);
}

export async function pushRepository(req: PushRequest): Promise<PushResult> {
  const fs = memoryFs();
  let authFailed = false;
  const auth = {
    onAuth: () => ({ username: req.username, password: req.password }),
    // isomorphic-git asks again on a 401; refusing makes it stop at once.
    onAuthFailure: () => {
      authFailed = true;
      return { cancel: true };
    },
  };
  const traced: Traced = (exchange) =>
    (req.external ?? untraced)("git", (traceparent) => exchange(traceparent ? { traceparent } : {}));
  try {
    const refs = await traced((headers) => git.listServerRefs({ http, url: req.url, symrefs: true, headers, ...auth }));
    const heads = new Map(refs.filter((r) => r.ref.startsWith("refs/heads/")).map((r) => [r.ref.slice(11), r.oid]));
    const defaultBranch = refs.find((r) => r.ref === "HEAD")?.target?.replace(/^refs\/heads\//, "");
    const base = req.baseBranch ?? defaultBranch ?? (heads.size > 0 ? [...heads.keys()][0] : undefined);
    if (req.baseBranch && !heads.has(req.baseBranch))
      throw new NonRetryableError("delivery.remote_refused", `the remote has no branch '${req.baseBranch}'`);

    await git.init({ fs, dir: DIR, defaultBranch: req.branch });
    await git.addRemote({ fs, dir: DIR, remote: "origin", url: req.url });
    let parent: string | undefined;
    if (base && heads.has(base)) {
      await traced((headers) =>
        git.fetch({
          fs,
          http,
          dir: DIR,
          remote: "origin",
          ref: base,
          singleBranch: true,
          depth: 1,
          tags: false,
          headers,
          ...auth,
        }),
      );
      parent = heads.get(base);
      await git.checkout({ fs, dir: DIR, ref: parent as string, force: true });
    }
    const commitSha = await commitFiles(fs, req, parent);

    const existing = heads.get(req.branch);
    if (existing === commitSha) return { commitSha, baseBranch: base ?? null, pushed: false };
    if (existing && !req.force) {
      // A branch made by an earlier attempt of this delivery holds the same tree: nothing to do.
      if (await sameTree(fs, req, existing, commitSha, auth, traced))
        return { commitSha: existing, baseBranch: base ?? null, pushed: false };
      throw new NonRetryableError(
        "delivery.branch_conflict",
        `branch '${req.branch}' exists on the remote with other content; set force: true to replace it`,
      );
    }
    const pushed = await traced((headers) =>
      git.push({
        fs,
        http,
        dir: DIR,
        url: req.url,
        ref: req.branch,
        remoteRef: `refs/heads/${req.branch}`,
        force: req.force,
        headers,
        ...auth,
      }),
    );
    if (!pushed.ok)
      throw new NonRetryableError("delivery.remote_refused", `the remote refused the push: ${pushed.error ?? ""}`);
    return { commitSha, baseBranch: base ?? null, pushed: true };
  } catch (err) {
    throw gitFailure(err, authFailed);
  }
}

async function commitFiles(fs: ReturnType<typeof memoryFs>, req: PushRequest, parent: string | undefined) {
  for (const [path, bytes] of req.files) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      await fs.promises.mkdir(`${DIR}/${parts.slice(0, i).join("/")}`).catch(() => undefined);
    }
    await fs.promises.writeFile(`${DIR}/${path}`, bytes);
    await git.add({ fs, dir: DIR, filepath: path });
  }
  const author = { name: req.author.name, email: req.author.email, timestamp: req.author.timestamp, timezoneOffset: 0 };
  // On top of the base when there is one; `ref` names the new branch, so HEAD's own branch is untouched.
  return git.commit({
    fs,
    dir: DIR,
    message: req.message,
    author,
    committer: author,
    ref: `refs/heads/${req.branch}`,
    parent: parent ? [parent] : [],
  });
}

/** Whether the remote's branch tip has the tree of our commit (fetched, shallow). */
async function sameTree(
  fs: ReturnType<typeof memoryFs>,
  req: PushRequest,
  remoteOid: string,
  ours: string,
  auth: object,
  traced: Traced,
): Promise<boolean> {
  await traced((headers) =>
    git.fetch({
      fs,
      http,
      dir: DIR,
      remote: "origin",
      ref: req.branch,
      singleBranch: true,
      depth: 1,
      tags: false,
      headers,
      ...auth,
    }),
  );
  const [theirs, mine] = await Promise.all([
    git.readCommit({ fs, dir: DIR, oid: remoteOid }),
    git.readCommit({ fs, dir: DIR, oid: ours }),
  ]);
  return theirs.commit.tree === mine.commit.tree;
}
