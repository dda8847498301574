/**
 * The smallest file system isomorphic-git needs (its `fs.promises` contract), in memory: an
 * attempt builds its commit here and drops it with the attempt. Workers have no disk, and the
 * generated repositories are small (the artifact is at most a few MiB).
 */

type Node = { kind: "file"; data: Uint8Array; mtimeMs: number } | { kind: "dir"; mtimeMs: number };

const fsError = (code: string, path: string) => Object.assign(new Error(`${code}: ${path}`), { code });

const normalize = (path: string) => {
  const parts: string[] = [];
  for (const p of path.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return `/${parts.join("/")}`;
};
const parentOf = (path: string) => path.slice(0, path.lastIndexOf("/")) || "/";

function stats(node: Node, ino: number) {
  const size = node.kind === "file" ? node.data.byteLength : 0;
  return {
    type: node.kind,
    mode: node.kind === "file" ? 0o100644 : 0o040000,
    size,
    ino,
    mtimeMs: node.mtimeMs,
    ctimeMs: node.mtimeMs,
    uid: 1,
    gid: 1,
    dev: 1,
    isFile: () => node.kind === "file",
    isDirectory: () => node.kind === "dir",
    isSymbolicLink: () => false,
  };
}

/** A fresh, empty in-memory file system in the shape isomorphic-git's `fs` option takes. */
export function memoryFs() {
  const nodes = new Map<string, Node>([["/", { kind: "dir", mtimeMs: 0 }]]);
  const inodes = new Map<string, number>();
  const get = (path: string) => {
    const node = nodes.get(normalize(path));
    if (!node) throw fsError("ENOENT", path);
    return node;
  };
  const encoder = new TextEncoder();
  const promises = {
    async readFile(path: string, opts?: { encoding?: string } | string) {
      const node = get(path);
      if (node.kind !== "file") throw fsError("EISDIR", path);
      const encoding = typeof opts === "string" ? opts : opts?.encoding;
      return encoding === "utf8" ? new TextDecoder().decode(node.data) : node.data;
    },
    async writeFile(path: string, data: Uint8Array | string) {
      const p = normalize(path);
      if (nodes.get(parentOf(p))?.kind !== "dir") throw fsError("ENOENT", path);
      const bytes = typeof data === "string" ? encoder.encode(data) : new Uint8Array(data);
      nodes.set(p, { kind: "file", data: bytes, mtimeMs: Date.now() });
    },
    async unlink(path: string) {
      if (get(path).kind !== "file") throw fsError("EISDIR", path);
      nodes.delete(normalize(path));
    },
    async readdir(path: string) {
      const p = normalize(path);
      if (get(p).kind !== "dir") throw fsError("ENOTDIR", path);
      const prefix = p === "/" ? "/" : `${p}/`;
      return [...nodes.keys()]
        .filter((k) => k !== p && k.startsWith(prefix) && !k.slice(prefix.length).includes("/"))
        .map((k) => k.slice(prefix.length));
    },
    async mkdir(path: string) {
      const p = normalize(path);
      if (nodes.has(p)) throw fsError("EEXIST", path);
      if (nodes.get(parentOf(p))?.kind !== "dir") throw fsError("ENOENT", path);
      nodes.set(p, { kind: "dir", mtimeMs: Date.now() });
    },
    async rmdir(path: string) {
      const p = normalize(path);
      if (get(p).kind !== "dir") throw fsError("ENOTDIR", path);
      if ((await promises.readdir(p)).length > 0) throw fsError("ENOTEMPTY", path);
      nodes.delete(p);
    },
    async stat(path: string) {
      const p = normalize(path);
      if (!inodes.has(p)) inodes.set(p, inodes.size + 1);
      return stats(get(p), inodes.get(p) as number);
    },
    async lstat(path: string) {
      return promises.stat(path);
    },
    async readlink(path: string): Promise<string> {
      throw fsError("EINVAL", path);
    },
    async symlink(_target: string, path: string) {
      throw fsError("EPERM", path);
    },
    async chmod() {},
  };
  return { promises };
}
