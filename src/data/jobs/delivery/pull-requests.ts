/**
 * Pull requests through the hosts' REST APIs, looked up before created so that a retried attempt
 * finds the one an earlier attempt opened. GitHub: REST v3 "pulls" (X-GitHub-Api-Version
 * 2022-11-28). Azure DevOps: Git "Pull Requests" (api-version 7.1).
 */
import type { ExternalCall } from "../../../lib/trace";
import type { GitHost } from "../../../../schema/jobs/delivery";
import { NonRetryableError } from "../../../errors";
import { basicAuth, rest } from "./rest";

export const GITHUB_API_VERSION = "2022-11-28";
export const AZURE_API_VERSION = "7.1";

/** Where a remote's repository lives on its host, read from the remote URL. */
export interface HostedRepo {
  host: Exclude<GitHost, "git">;
  /** GitHub: the REST base (https://api.github.com). Azure DevOps: the organization's URL. */
  apiBase: string;
  /** GitHub: the owner. Azure DevOps: the project. */
  owner: string;
  repo: string;
}

/** Reads owner/repo (GitHub) or project/repo (Azure DevOps: `…/{project}/_git/{repo}`) from the remote URL. */
export function hostedRepo(remote: URL, host: Exclude<GitHost, "git">, apiUrl: string | undefined): HostedRepo {
  const segments = remote.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (host === "github") {
    const [owner, repo] = segments.slice(-2);
    if (!owner || !repo)
      throw new NonRetryableError("delivery.remote_refused", "a GitHub remote is …/<owner>/<repo>.git");
    return { host, apiBase: trim(apiUrl ?? "https://api.github.com"), owner, repo: repo.replace(/\.git$/, "") };
  }
  const at = segments.indexOf("_git");
  const project = segments[at - 1];
  const repo = segments[at + 1];
  if (at < 1 || !project || !repo)
    throw new NonRetryableError("delivery.remote_refused", "an Azure DevOps remote is …/<project>/_git/<repo>");
  const organization = `${remote.origin}/${segments
    .slice(0, at - 1)
    .map(encodeURIComponent)
    .join("/")}`;
  return { host, apiBase: trim(apiUrl ?? organization), owner: project, repo };
}

const trim = (url: string) => url.replace(/\/+$/, "");
const seg = encodeURIComponent;

export interface PullRequestSpec {
  branch: string;
  baseBranch: string;
  title: string;
  description: string;
  token: string;
  signal: AbortSignal;
  /** The attempt's tracer (JobContext.external). */
  external?: ExternalCall;
}

/** The open pull request from `branch` into `baseBranch`, opened if there is none. */
export async function ensurePullRequest(repo: HostedRepo, spec: PullRequestSpec): Promise<{ id: string; url: string }> {
  return repo.host === "github" ? githubPullRequest(repo, spec) : azurePullRequest(repo, spec);
}

interface GithubPull {
  number: number;
  html_url: string;
}

async function githubPullRequest(repo: HostedRepo, spec: PullRequestSpec) {
  const base = `${repo.apiBase}/repos/${seg(repo.owner)}/${seg(repo.repo)}/pulls`;
  const call = {
    authorization: `Bearer ${spec.token}`,
    headers: { accept: "application/vnd.github+json", "x-github-api-version": GITHUB_API_VERSION },
    signal: spec.signal,
    ...(spec.external ? { external: spec.external } : {}),
  };
  const query = `state=open&head=${seg(`${repo.owner}:${spec.branch}`)}&base=${seg(spec.baseBranch)}`;
  const find = async () => (await rest<GithubPull[]>({ ...call, method: "GET", url: `${base}?${query}` }))?.[0];
  const open = await find();
  if (open) return { id: String(open.number), url: open.html_url };
  const made = await rest<GithubPull>({
    ...call,
    method: "POST",
    url: base,
    body: { title: spec.title, head: spec.branch, base: spec.baseBranch, body: spec.description },
  });
  if (!made) throw new NonRetryableError("delivery.remote_refused", "GitHub did not answer the new pull request");
  return { id: String(made.number), url: made.html_url };
}

interface AzurePull {
  pullRequestId: number;
  repository: { webUrl: string };
}

async function azurePullRequest(repo: HostedRepo, spec: PullRequestSpec) {
  const base = `${repo.apiBase}/${seg(repo.owner)}/_apis/git/repositories/${seg(repo.repo)}/pullrequests`;
  const call = {
    authorization: basicAuth("", spec.token),
    signal: spec.signal,
    ...(spec.external ? { external: spec.external } : {}),
  };
  const source = `refs/heads/${spec.branch}`;
  const target = `refs/heads/${spec.baseBranch}`;
  const query = `searchCriteria.sourceRefName=${seg(source)}&searchCriteria.targetRefName=${seg(target)}&searchCriteria.status=active&api-version=${AZURE_API_VERSION}`;
  const found = await rest<{ value: AzurePull[] }>({ ...call, method: "GET", url: `${base}?${query}` });
  const open = found?.value[0];
  const pull =
    open ??
    (await rest<AzurePull>({
      ...call,
      method: "POST",
      url: `${base}?api-version=${AZURE_API_VERSION}`,
      body: { sourceRefName: source, targetRefName: target, title: spec.title, description: spec.description },
    }));
  if (!pull) throw new NonRetryableError("delivery.remote_refused", "Azure DevOps did not answer the new pull request");
  return { id: String(pull.pullRequestId), url: `${pull.repository.webUrl}/pullrequest/${pull.pullRequestId}` };
}
