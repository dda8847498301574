/** The external pool's job type: run by workers outside Cloudflare that lease steps over HTTP. */
import { z } from "zod";
import { declareJob } from "./declare";

export const externalTask = declareJob({
  type: "external.task",
  pool: "external",
  description:
    "A task for an external worker (long CPU, GPUs, private networks); `kind` says which of its handlers runs it.",
  input: z
    .object({
      kind: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/),
      payload: z.record(z.string(), z.unknown()).default({}),
    })
    .strict(),
  output: z.record(z.string(), z.unknown()),
});
