/** A starting input for a blueprint, from its JSON Schema: its required fields, filled. Pure. */

type Schema = {
  type?: unknown;
  properties?: Record<string, Schema>;
  required?: unknown;
  description?: unknown;
  default?: unknown;
  examples?: unknown;
  enum?: unknown;
};

export function exampleInput(schema: Schema): Record<string, unknown> {
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  return Object.fromEntries(required.map((name) => [name, exampleValue(schema.properties?.[name] ?? {})]));
}

function exampleValue(s: Schema): unknown {
  if (s.default !== undefined) return s.default;
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  // Descriptions such as "package and repository name, e.g. billing-api" carry an example.
  const eg = typeof s.description === "string" ? /e\.g\.\s+([^\s,;]+)/.exec(s.description) : null;
  switch (s.type) {
    case "string":
      return eg ? eg[1] : "example";
    case "integer":
    case "number":
      return 1;
    case "boolean":
      return false;
    case "array":
      return [];
    case "object":
      return exampleInput(s);
    default:
      return null;
  }
}
