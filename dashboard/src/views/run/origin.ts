/** What started a run (its `origin`), for the run page's summary: the API, a schedule, an event or a retry. */
import type { RunOrigin } from "../../../../schema/api";
import { h } from "../../dom";
import { formatTime } from "../../format";

export function runOrigin(origin: RunOrigin | undefined): Node | string {
  // An archived run from before runs carried their origin shows none.
  if (!origin || origin.kind === "api") return "the API";
  if (origin.kind === "retry")
    return h("span", {}, "a retry of ", h("a", { href: `#/runs/${origin.id}`, class: "mono" }, origin.id ?? ""));
  if (origin.kind === "schedule")
    return h(
      "span",
      {},
      "schedule ",
      h("a", { href: `#/schedules/${origin.id ?? ""}`, class: "mono" }, origin.id ?? ""),
      origin.fireTime ? `, fire time ${formatTime(origin.fireTime)}` : "",
    );
  return h(
    "span",
    {},
    "event ",
    h("span", { class: "mono" }, origin.id ?? ""),
    origin.triggerId ? h("span", {}, " via trigger ", h("span", { class: "mono" }, origin.triggerId)) : "",
  );
}
