import type { Env as WorkerEnv } from "../../src/env";

// worker-configuration.d.ts (generated, without the main module so that node-side code can
// include it) declares Cloudflare.Env from wrangler.toml. The tests' `env` and `exports`
// (cloudflare:test, cloudflare:workers) are the Worker's own: its Env with typed queues and
// optional secrets, and its main module's entry points.
declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
    interface GlobalProps {
      mainModule: typeof import("../../src/index");
      durableNamespaces: "RunObject" | "TenantObject" | "PoolObject" | "DirectoryObject";
    }
  }
}
