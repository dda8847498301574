/**
 * An Azure DevOps pipeline for the pushed branch, through the documented REST API (api-version
 * 7.1): "Pipelines - List" then "Pipelines - Create" when none has the name (a retried attempt
 * finds the one it made), "Repositories - Get" for the repository's id, and "Runs - Run Pipeline"
 * on the branch. Basic auth with a PAT.
 */
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
  token: string;
  signal: AbortSignal;
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

const seg = encodeURIComponent;
const v = `api-version=${AZURE_API_VERSION}`;

export async function createAndRunPipeline(spec: PipelineSpec) {
  const project = `${spec.organizationUrl.replace(/\/+$/, "")}/${seg(spec.project)}`;
  const call = { authorization: basicAuth("", spec.token), signal: spec.signal };
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
  const run = await rest<PipelineRun>({
    ...call,
    method: "POST",
    url: `${project}/_apis/pipelines/${pipeline.id}/runs?${v}`,
    body: { resources: { repositories: { self: { refName: `refs/heads/${spec.branch}` } } } },
  });
  if (!run) throw new NonRetryableError("delivery.remote_refused", "Azure DevOps did not answer the new run");
  return {
    pipeline: { id: String(pipeline.id), url: pipeline._links?.web?.href ?? pipeline.url },
    build: { id: String(run.id), url: run._links?.web?.href ?? run.url, result: run.result ?? null },
  };
}
