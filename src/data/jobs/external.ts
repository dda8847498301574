/** The external pool's job type: run by workers outside Cloudflare that lease steps over HTTP. */
import { z } from "zod";
import { NonRetryableError } from "../../errors";
import { defineJob } from "../job";

export const externalTask = defineJob({
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
  // Never called: the external pool has no queue consumer; workers lease its steps over HTTP.
  run: async () => {
    throw new NonRetryableError("step.external", "external.task runs on external workers");
  },
});
