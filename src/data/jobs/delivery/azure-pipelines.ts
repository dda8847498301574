/**
 * An Azure DevOps pipeline for the pushed branch, through the documented REST API (api-version
 * 7.1): "Pipelines - List" then "Pipelines - Create" when none has the name (a retried attempt
 * finds the one it made), "Repositories - Get" for the repository's id, and "Runs - Run Pipeline"
 * on the branch, pinned to the pushed commit. Basic auth with a PAT.
 *
 * Queuing is idempotent too: before "Runs - Run Pipeline", "Builds - List" (a pipeline's runs are
 * its definition's builds, with the same ids) looks for a build of this pipeline on this branch at
 * this commit. The branch is the run's own (`factory/<run-id>`), so such a build is the one an
 * earlier attempt queued before it was killed, and it is reported instead of queuing a second.
 */
import type { ExternalCall } from "../../../lib/trace";
import { NonRetryableError } from "../../../errors";
import { AZURE_API_VERSION } from "./pull-requests";
import { basicAuth, rest } from "./rest";

export interface PipelineSpec {
  /** The organization's URL (https://dev.azure.com/<organization>). */
  organizationUrl: string;
  project: string;
  repository: string;
  name: string;
  folder: string;
  yamlPath: string;
  branch: string;
  /** The pushed commit: the run is pinned to it, and an earlier attempt's build is found by it. */
  commitSha: string;
  token: string;
  signal: AbortSignal;
  /** The attempt's tracer (JobContext.external). */
  external?: ExternalCall;
}

interface Pipeline {
  id: number;
  name: string;
  folder: string;
  _links?: { web?: { href?: string } };
  url: string;
}

interface PipelineRun {
  id: number;
  state: string;
  result?: string;
  url: string;
  _links?: { web?: { href?: string } };
}

interface Build {
  id: number;
  result?: string | null;
  sourceBranch: string;
  sourceVersion: string;
  url: string;
  _links?: { web?: { href?: string } };
}

const seg = encodeURIComponent;
const v = `api-version=${AZURE_API_VERSION}`;

export async function createAndRunPipeline(spec: PipelineSpec) {
  const project = `${spec.organizationUrl.replace(/\/+$/, "")}/${seg(spec.project)}`;
  const call: Call = {
    authorization: basicAuth("", spec.token),
    signal: spec.signal,
    ...(spec.external ? { external: spec.external } : {}),
  };
  const listed = await rest<{ value: Pipeline[] }>({ ...call, method: "GET", url: `${project}/_apis/pipelines?${v}` });
  let pipeline = listed?.value.find((p) => p.name === spec.name && p.folder === spec.folder);
  if (!pipeline) {
    const repo = await rest<{ id: string; name: string }>({
      ...call,
      method: "GET",
      url: `${project}/_apis/git/repositories/${seg(spec.repository)}?${v}`,
    });
    if (!repo) throw new NonRetryableError("delivery.remote_refused", "Azure DevOps did not answer the repository");
    pipeline =
      (await rest<Pipeline>({
        ...call,
        method: "POST",
        url: `${project}/_apis/pipelines?${v}`,
        body: {
          name: spec.name,
          folder: spec.folder,
          configuration: {
            type: "yaml",
            path: spec.yamlPath,
            repository: { id: repo.id, name: repo.name, type: "azureReposGit" },
          },
        },
      })) ?? undefined;
    if (!pipeline)
      throw new NonRetryableError("delivery.remote_refused", "Azure DevOps did not answer the new pipeline");
  }
  const build =
    (await queuedBuild(project, pipeline.id, spec, call)) ?? (await queueRun(project, pipeline.id, spec, call));
  return {
    pipeline: { id: String(pipeline.id), url: pipeline._links?.web?.href ?? pipeline.url },
    build,
  };
}

type Call = { authorization: string; signal: AbortSignal; external?: ExternalCall };
const webOf = (x: { url: string; _links?: { web?: { href?: string } } }) => x._links?.web?.href ?? x.url;

/** The build an earlier attempt queued for this pipeline, branch and commit, if there is one. */
async function queuedBuild(project: string, pipelineId: number, spec: PipelineSpec, call: Call) {
  const ref = `refs/heads/${spec.branch}`;
  const found = await rest<{ value: Build[] }>({
    ...call,
    method: "GET",
    url: `${project}/_apis/build/builds?definitions=${pipelineId}&branchName=${seg(ref)}&queryOrder=queueTimeAscending&${v}`,
  });
  const build = found?.value.find((b) => b.sourceBranch === ref && b.sourceVersion === spec.commitSha);
  return build ? { id: String(build.id), url: webOf(build), result: build.result ?? null } : null;
}

async function queueRun(project: string, pipelineId: number, spec: PipelineSpec, call: Call) {
  const run = await rest<PipelineRun>({
    ...call,
    method: "POST",
    url: `${project}/_apis/pipelines/${pipelineId}/runs?${v}`,
    body: { resources: { repositories: { self: { refName: `refs/heads/${spec.branch}`, version: spec.commitSha } } } },
  });
  if (!run) throw new NonRetryableError("delivery.remote_refused", "Azure DevOps did not answer the new run");
  return { id: String(run.id), url: webOf(run), result: run.result ?? null };
}
