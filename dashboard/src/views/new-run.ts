/** Submit a blueprint run: pick a blueprint, name the project, edit the input as JSON. */
import type { BlueprintList } from "../../../schema/api";
import { errorState, fill, h } from "../dom";
import { exampleInput } from "../examples";
import type { View } from "./view";

export const renderNewRun: View = ({ api, main, navigate }) => {
  let disposed = false;
  const body = h("div", { class: "panel-body" }, h("div", { class: "loading" }, "Loading blueprints…"));
  fill(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "New run")),
    h("section", { class: "panel panel-narrow" }, body),
  );

  void api.blueprints().then(
    (list) => !disposed && fill(body, form(list)),
    (err) => !disposed && fill(body, errorState(err)),
  );

  function form(list: BlueprintList): HTMLElement {
    const blueprint = h(
      "select",
      { id: "blueprint", name: "blueprint", required: true },
      list.items.map((b) => h("option", { value: b.name }, b.name)),
    );
    const description = h("p", { class: "help" });
    const project = h("input", {
      id: "project",
      name: "project",
      required: true,
      value: "demo",
      autocomplete: "off",
      pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}",
    });
    const input = h("textarea", { id: "input", name: "input", rows: 8, class: "mono", spellcheck: "false" });
    const status = h("div");
    const submit = h("button", { class: "btn btn-primary", type: "submit" }, "Submit run");
    const pick = () => {
      const b = list.items.find((x) => x.name === blueprint.value);
      description.textContent = b?.description ?? "";
      input.value = JSON.stringify(b ? exampleInput(b.input) : {}, null, 2);
    };
    blueprint.addEventListener("change", pick);
    pick();
    return h(
      "form",
      {
        class: "form",
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          fill(status);
          let parsed: unknown;
          try {
            parsed = JSON.parse(input.value || "{}");
          } catch (err) {
            fill(status, errorState(new Error(`The input is not valid JSON: ${(err as Error).message}`)));
            return;
          }
          if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
            fill(status, errorState(new Error("The input must be a JSON object.")));
            return;
          }
          submit.disabled = true;
          try {
            const run = await api.createRun({
              project: project.value.trim(),
              blueprint: blueprint.value,
              input: parsed as Record<string, unknown>,
            });
            navigate(`#/runs/${run.id}`);
          } catch (err) {
            fill(status, errorState(err));
          } finally {
            submit.disabled = false;
          }
        },
      },
      h("label", { for: "blueprint" }, "Blueprint"),
      blueprint,
      description,
      h("label", { for: "project" }, "Project"),
      project,
      h("label", { for: "input" }, "Input (JSON)"),
      input,
      status,
      h("div", { class: "form-actions" }, submit, h("a", { class: "btn btn-ghost", href: "#/runs" }, "Cancel")),
    );
  }
  return () => {
    disposed = true;
  };
};
