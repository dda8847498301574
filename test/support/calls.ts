/** Counting calls to Durable Objects from inside workerd tests, where every stub is made here. */

type Namespace = { getByName(name: string): Record<string, unknown> };

/**
 * Runs `work` with every method call on a stub of the given namespaces recorded as
 * `label.method` (each method of an RPC stub is one call to its object; `label[name].method` with
 * `byName`), then restores them.
 * `work` sees the calls so far, to wait on them without calls of its own.
 */
export async function recordCalls(
  namespaces: Record<string, unknown>,
  work: (calls: readonly string[]) => Promise<void>,
  opts: { byName?: boolean } = {},
): Promise<string[]> {
  const calls: string[] = [];
  const restore = Object.entries(namespaces).map(([label, ns]) => {
    const namespace = ns as Namespace;
    const getByName = namespace.getByName;
    namespace.getByName = function (this: unknown, name: string) {
      const stub = getByName.call(this, name);
      return new Proxy(stub, {
        get(target, prop) {
          if (typeof prop !== "string" || prop === "then") return Reflect.get(target, prop);
          return (...args: unknown[]) => {
            // `label[name].method` with byName: which object of the namespace was called.
            calls.push(opts.byName ? `${label}[${name}].${prop}` : `${label}.${prop}`);
            return (target[prop] as (...a: unknown[]) => unknown)(...args);
          };
        },
      });
    };
    return () => {
      namespace.getByName = getByName;
    };
  });
  try {
    await work(calls);
  } finally {
    for (const undo of restore) undo();
  }
  return calls;
}
