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
    dependencies: {
      type: "object",
      additionalProperties: { anyOf: [{ $ref: "#" }, { $ref: "#/definitions/stringArray" }] },
    },
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
    // Added below: a literal `then` key makes the object a thenable (biome's noThenProperty).
    else: { $ref: "#" },
    allOf: { $ref: "#/definitions/schemaArray" },
    anyOf: { $ref: "#/definitions/schemaArray" },
    oneOf: { $ref: "#/definitions/schemaArray" },
    not: { $ref: "#" },
  },
  default: true,
};
// biome-ignore lint/suspicious/noThenProperty: the meta-schema's `then` keyword, never awaited.
(META.properties as Record<string, Schema>).then = { $ref: "#" };

const meta = new Validator(META, "7", false);

/** `#/files/2` (the validator's instance location) as its segments, `["files", "2"]`. */
function segmentsOf(location: string): string[] {
  return location
    .replace(/^#\/?/, "")
    .split("/")
    .filter(Boolean)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** Segments under `base` as a path: `base.files[2]`. */
function pathOf(base: string, segments: readonly string[]): string {
  return segments.reduce((p, part) => (/^\d+$/.test(part) ? `${p}[${part}]` : `${p}.${part}`), base);
}

/** One mismatch as path segments (for zod issues) and the validator's reason. */
export interface InstanceIssue {
  segments: string[];
  message: string;
}

/** Keywords whose errors only summarize their subschemas' ("Property … does not match schema"). */
const SUMMARIES = new Set([
  "properties",
  "patternProperties",
  "additionalProperties",
  "items",
  "additionalItems",
  "$ref",
  "allOf",
  "if",
  "then",
  "else",
  "dependencies",
  "propertyNames",
  "contains",
]);

type Unit = { keyword: string; instanceLocation: string; error: string };

/**
 * The specific issues: a summarizing keyword's error is left out when a more specific error
 * explains it (one at or below its location); at most 10, one per location and message.
 */
function deepest(errors: readonly Unit[]): InstanceIssue[] {
  const explained = (u: Unit) =>
    SUMMARIES.has(u.keyword) &&
    errors.some(
      (o) =>
        o !== u &&
        !SUMMARIES.has(o.keyword) &&
        (o.instanceLocation === u.instanceLocation || o.instanceLocation.startsWith(`${u.instanceLocation}/`)),
    );
  const seen = new Set<string>();
  const out: InstanceIssue[] = [];
  for (const u of errors) {
    const key = `${u.instanceLocation}\n${u.error}`;
    if (explained(u) || seen.has(key)) continue;
    seen.add(key);
    out.push({ segments: segmentsOf(u.instanceLocation), message: u.error });
  }
  return out.slice(0, 10);
}

const issues = (base: string, errors: readonly Unit[]): SchemaIssue[] =>
  deepest(errors).map((i) => ({ path: pathOf(base, i.segments), message: i.message }));

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

/** Where `value` does not fit `schema` (a schema `schemaProblems` accepted), as segments; empty when it fits. */
export function instanceIssues(schema: Record<string, unknown>, value: unknown): InstanceIssue[] {
  const key = JSON.stringify(schema);
  let validator = compiled.get(key);
  if (!validator) {
    validator = new Validator(schema as Schema, "7", false);
    if (compiled.size >= COMPILED_MAX) compiled.clear();
    compiled.set(key, validator);
  }
  const result = validator.validate(value);
  return result.valid ? [] : deepest(result.errors);
}

/** Where `value` does not fit `schema`, under `base` (`input.files[2]`); empty when it fits. */
export function mismatches(schema: Record<string, unknown>, value: unknown, base: string): SchemaIssue[] {
  return instanceIssues(schema, value).map((i) => ({ path: pathOf(base, i.segments), message: i.message }));
}
