/** Submit a blueprint run: pick a blueprint, name the project, edit the input as JSON. */
import type { BlueprintList } from "../../../schema/api";
import type { Api } from "../api";
import { errorState, fill, h, submitting } from "../dom";
import { exampleInput } from "../examples";
import type { View } from "./view";

/** The input as a JSON object, or the error to show for it. */
function parseInput(text: string): Record<string, unknown> | Error {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text || "{}");
  } catch (err) {
    return new Error(`The input is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    return new Error("The input must be a JSON object.");
  return parsed as Record<string, unknown>;
}

function fields(list: BlueprintList) {
  const blueprint = h(
    "select",
    { id: "blueprint", name: "blueprint", required: true, "aria-describedby": "blueprint-help" },
    list.items.map((b) => h("option", { value: b.name }, b.name)),
  );
  const description = h("p", { class: "help", id: "blueprint-help" });
  const project = h("input", {
    id: "project",
    name: "project",
    required: true,
    value: "demo",
    autocomplete: "off",
    pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}",
  });
  const input = h("textarea", { id: "input", name: "input", rows: 8, class: "mono", spellcheck: "false" });
  const pick = () => {
    const b = list.items.find((x) => x.name === blueprint.value);
    description.textContent = b?.description ?? "";
    input.value = JSON.stringify(b ? exampleInput(b.input) : {}, null, 2);
  };
  blueprint.addEventListener("change", pick);
  pick();
  return { blueprint, description, project, input };
}

function runForm(list: BlueprintList, api: Api, navigate: (hash: string) => void): HTMLElement {
  const f = fields(list);
  const status = h("div");
  const submit = h("button", { class: "btn btn-primary", type: "submit" }, "Submit run");
  const onsubmit = async (ev: Event) => {
    ev.preventDefault();
    const input = parseInput(f.input.value);
    if (input instanceof Error) return fill(status, errorState(input));
    await submitting(submit, status, async () => {
      const run = await api.createRun({ project: f.project.value.trim(), blueprint: f.blueprint.value, input });
      navigate(`#/runs/${run.id}`);
    });
  };
  return h(
    "form",
    { class: "form", onsubmit },
    h("label", { for: "blueprint" }, "Blueprint"),
    f.blueprint,
    f.description,
    h("label", { for: "project" }, "Project"),
    f.project,
    h("label", { for: "input" }, "Input (JSON)"),
    f.input,
    status,
    h("div", { class: "form-actions" }, submit, h("a", { class: "btn btn-ghost", href: "#/runs" }, "Cancel")),
  );
}

export const renderNewRun: View = ({ api, main, navigate }) => {
  let disposed = false;
  const body = h("div", { class: "panel-body" }, h("div", { class: "loading" }, "Loading blueprints…"));
  fill(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "New run")),
    h("section", { class: "panel panel-narrow" }, body),
  );

  void api.blueprints().then(
    (list) => !disposed && fill(body, runForm(list, api, navigate)),
    (err) => !disposed && fill(body, errorState(err)),
  );

  return () => {
    disposed = true;
  };
};
