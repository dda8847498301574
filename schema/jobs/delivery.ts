/**
 * The delivery pool's jobs: a run's generated repository pushed to the customer's Git remote as a
 * branch (with a pull request on GitHub or Azure DevOps), and an Azure DevOps pipeline built from
 * it. Credentials are tenant secrets, referenced as `{ "$secret": "name" }` and resolved by the
 * consumer after the attempt begins (docs/delivery.md).
 */
import { z } from "zod";
import { SecretRef } from "../secrets";
import { declareJob } from "./declare";

/** A credential: a `$secret` reference in the step as stored; its value once the consumer resolved it. */
const Credential = z.union([SecretRef, z.string().min(1)]);

export const GIT_HOSTS = ["git", "github", "azure-devops"] as const;
export type GitHost = (typeof GIT_HOSTS)[number];

/** A branch name the remote will take: no `..`, no leading `-` or `/`, no spaces or control characters. */
const BranchName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^(?!-)(?!\/)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9._/-]+(?<!\/)(?<!\.lock)$/, "not a valid branch name");

const Link = z.object({ id: z.string(), url: z.string() });

export const deliverGit = declareJob({
  type: "deliver.git",
  pool: "delivery",
  description:
    "Pushes the repository artifact of step `fromStep` to a Git remote over smart HTTP as branch `factory/<run-id>` (or `branch`), and on GitHub or Azure DevOps opens a pull request against `baseBranch`.",
  input: z
    .object({
      fromStep: z.string().min(1).max(64),
      url: z.string().url().max(2000),
      host: z.enum(GIT_HOSTS).default("git"),
      credential: Credential,
      username: z.string().min(1).max(100).default("factory"),
      branch: BranchName.optional(),
      baseBranch: BranchName.optional(),
      message: z.string().min(1).max(2000).optional(),
      author: z
        .object({ name: z.string().min(1).max(100), email: z.string().email() })
        .strict()
        .optional(),
      force: z.boolean().default(false),
      pullRequest: z
        .object({ title: z.string().min(1).max(250).optional(), description: z.string().max(4000).optional() })
        .strict()
        .optional(),
      /** The REST API's base, for GitHub Enterprise or Azure DevOps Server (defaults: api.github.com, the remote's origin). */
      apiUrl: z.string().url().max(2000).optional(),
    })
    .strict(),
  output: z.object({
    remoteUrl: z.string(),
    branch: z.string(),
    baseBranch: z.string().nullable(),
    commitSha: z.string().regex(/^[0-9a-f]{40}$/),
    files: z.number().int(),
    pushed: z.boolean(),
    pullRequest: Link.nullable(),
  }),
});

export const deliverAzurePipeline = declareJob({
  type: "deliver.azure-pipeline",
  pool: "delivery",
  description:
    "Creates (or finds) the Azure DevOps pipeline of the pushed branch's `azure-pipelines.yml` and queues a run of it on that branch.",
  input: z
    .object({
      /** The deliver.git step whose branch the pipeline builds. */
      fromStep: z.string().min(1).max(64),
      organization: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/),
      project: z.string().min(1).max(200),
      credential: Credential,
      name: z.string().min(1).max(200).optional(),
      folder: z.string().max(200).default("\\"),
      yamlPath: z.string().min(1).max(400).default("azure-pipelines.yml"),
      /** The organization's base URL (default https://dev.azure.com/<organization>). */
      apiUrl: z.string().url().max(2000).optional(),
    })
    .strict(),
  output: z.object({
    remoteUrl: z.string(),
    branch: z.string(),
    commitSha: z.string(),
    pipeline: Link,
    build: Link.extend({ result: z.string().nullable() }),
  }),
});

/** The output of a `deliver.git` step: where the repository landed (remote, branch, commit, pull request). */
export type GitDelivery = z.infer<typeof deliverGit.output>;
/** The output of a `deliver.azure-pipeline` step: the pipeline and the build it queued. */
export type PipelineDelivery = z.infer<typeof deliverAzurePipeline.output>;
