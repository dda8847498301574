/** The external pool's job type: run by workers outside Cloudflare that lease steps over HTTP. */
import { externalTask as declaration } from "../../../schema/jobs/external";
import { NonRetryableError } from "../../errors";
import { defineJob } from "../job";

// Never called: the external pool has no queue consumer; workers lease its steps over HTTP.
export const externalTask = defineJob(declaration, async () => {
  throw new NonRetryableError("step.external", "external.task runs on external workers");
});
