/** Where a run's output was delivered, as lines for `factory runs get` (external ids and their links). */
import type { GitDelivery, PipelineDelivery, RunView } from "@factory-runtime/client";

export function deliveryLines(run: RunView): string[] {
  return run.steps.flatMap((s) => {
    if (s.status !== "succeeded" || !s.type.startsWith("deliver.")) return [];
    const o = s.output as Partial<GitDelivery & PipelineDelivery> | null;
    if (!o) return [];
    return [
      `delivered (${s.id}): ${o.remoteUrl} branch ${o.branch} commit ${o.commitSha}`,
      ...(o.pullRequest ? [`  pull request #${o.pullRequest.id}: ${o.pullRequest.url}`] : []),
      ...(o.pipeline ? [`  pipeline ${o.pipeline.id}: ${o.pipeline.url}`] : []),
      ...(o.build ? [`  build ${o.build.id} (${o.build.result ?? "queued"}): ${o.build.url}`] : []),
    ];
  });
}
