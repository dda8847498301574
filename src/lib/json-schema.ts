/**
 * JSON Schema (draft-07) with @cfworker/json-schema, a validator made for Workers (no `eval`, no
 * code generation, which workerd forbids): tenant job types' input and output, and signal bodies.
 * A schema is itself checked against the draft-07 meta-schema before anything is validated with it,
 * so a tenant's mistake is a 400 with the validator's reason, not a surprise at run time.
 */
import { type Schema, Validator } from "@cfworker/json-schema";

/** One mismatch: where (`input.files[2]`) and why. */
export interface SchemaIssue {
  path: string;
  message: string;
}

/** The draft-07 meta-schema (json-schema.org/draft-07/schema), the parts that constrain keywords' forms. */
const META: Schema = {
  $id: "http://json-schema.org/draft-07/schema#",
  definitions: {
    schemaArray: { type: "array", minItems: 1, items: { $ref: "#" } },
    nonNegativeInteger: { type: "integer", minimum: 0 },
    nonNegativeIntegerDefault0: { allOf: [{ $ref: "#/definitions/nonNegativeInteger" }, { default: 0 }] },
    simpleTypes: { enum: ["array", "boolean", "integer", "null", "number", "object", "string"] },
    stringArray: { type: "array", items: { type: "string" }, uniqueItems: true, default: [] },
  },
  type: ["object", "boolean"],
  properties: {
    $id: { type: "string" },
    $schema: { type: "string" },
    $ref: { type: "string" },
    $comment: { type: "string" },
    title: { type: "string" },
    description: { type: "string" },
    readOnly: { type: "boolean" },
    writeOnly: { type: "boolean" },
    examples: { type: "array" },
    multipleOf: { type: "number", exclusiveMinimum: 0 },
    maximum: { type: "number" },
    exclusiveMaximum: { type: "number" },
    minimum: { type: "number" },
    exclusiveMinimum: { type: "number" },
    maxLength: { $ref: "#/definitions/nonNegativeInteger" },
    minLength: { $ref: "#/definitions/nonNegativeIntegerDefault0" },
    pattern: { type: "string", format: "regex" },
    additionalItems: { $ref: "#" },
    items: { anyOf: [{ $ref: "#" }, { $ref: "#/definitions/schemaArray" }] },
    maxItems: { $ref: "#/definitions/nonNegativeInteger" },
    minItems: { $ref: "#/definitions/nonNegativeIntegerDefault0" },
    uniqueItems: { type: "boolean" },
    contains: { $ref: "#" },
    maxProperties: { $ref: "#/definitions/nonNegativeInteger" },
    minProperties: { $ref: "#/definitions/nonNegativeIntegerDefault0" },
    required: { $ref: "#/definitions/stringArray" },
    additionalProperties: { $ref: "#" },
    definitions: { type: "object", additionalProperties: { $ref: "#" } },
    properties: { type: "object", additionalProperties: { $ref: "#" } },
    patternProperties: { type: "object", additionalProperties: { $ref: "#" }, propertyNames: { format: "regex" } },
    dependencies: { type: "object", additionalProperties: { anyOf: [{ $ref: "#" }, { $ref: "#/definitions/stringArray" }] } },
    propertyNames: { $ref: "#" },
    const: true,
    enum: { type: "array", items: true },
    type: {
      anyOf: [
        { $ref: "#/definitions/simpleTypes" },
        { type: "array", items: { $ref: "#/definitions/simpleTypes" }, minItems: 1, uniqueItems: true },
      ],
    },
    format: { type: "string" },
    contentMediaType: { type: "string" },
    contentEncoding: { type: "string" },
    if: { $ref: "#" },
    then: { $ref: "#" },
    else: { $ref: "#" },
    allOf: { $ref: "#/definitions/schemaArray" },
    anyOf: { $ref: "#/definitions/schemaArray" },
    oneOf: { $ref: "#/definitions/schemaArray" },
    not: { $ref: "#" },
  },
  default: true,
};

const meta = new Validator(META, "7", false);

/** `#/files/2` (the validator's instance location) as `base.files[2]`. */
function pathOf(base: string, location: string): string {
  const parts = location.replace(/^#\/?/, "").split("/").filter(Boolean);
  return parts.reduce(
    (p, part) => (/^\d+$/.test(part) ? `${p}[${part}]` : `${p}.${part.replace(/~1/g, "/").replace(/~0/g, "~")}`),
    base,
  );
}

/**
 * The most specific issues: the validator reports each failing keyword with its parents'
 * summaries ("Property … does not match schema"); the deepest location says most.
 */
function issues(base: string, errors: readonly { instanceLocation: string; error: string }[]): SchemaIssue[] {
  const deepest = new Map<string, string>();
  for (const e of errors) deepest.set(e.instanceLocation, e.error);
  const locations = [...deepest.keys()];
  return locations
    .filter((l) => !locations.some((other) => other !== l && other.startsWith(`${l}/`)))
    .slice(0, 10)
    .map((l) => ({ path: pathOf(base, l), message: deepest.get(l) ?? "does not fit" }));
}

/** Why `schema` is not a usable JSON Schema (draft-07), or an empty list. `$ref`s stay within the schema. */
export function schemaProblems(schema: unknown, base: string): SchemaIssue[] {
  const checked = meta.validate(schema);
  if (!checked.valid) return issues(base, checked.errors);
  const refs = JSON.stringify(schema).match(/"\$ref":"([^"]*)"/g) ?? [];
  const remote = refs.find((r) => !r.startsWith('"$ref":"#'));
  if (remote) return [{ path: base, message: `only local $refs ('#/…') are allowed: ${remote.slice(8, -1)}` }];
  try {
    new Validator(schema as Schema, "7").validate(null);
  } catch (err) {
    return [{ path: base, message: err instanceof Error ? err.message : String(err) }];
  }
  return [];
}

/** Validators by schema text: a job type's schema is checked once per isolate, not per step. */
const compiled = new Map<string, Validator>();
const COMPILED_MAX = 500;

/** Where `value` does not fit `schema` (a schema `schemaProblems` accepted), under `base`; empty when it fits. */
export function mismatches(schema: Record<string, unknown>, value: unknown, base: string): SchemaIssue[] {
  const key = JSON.stringify(schema);
  let validator = compiled.get(key);
  if (!validator) {
    validator = new Validator(schema as Schema, "7", false);
    if (compiled.size >= COMPILED_MAX) compiled.clear();
    compiled.set(key, validator);
  }
  const result = validator.validate(value);
  return result.valid ? [] : issues(base, result.errors);
}
