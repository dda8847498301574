/**
 * The Analytics Engine schema (schema/analytics/points.ts), its documentation (README.md there)
 * and the SQL views (views/*.sql) must agree. UPDATE_ANALYTICS_DOC=1 rewrites the README's tables.
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DATASET, LIMITS, POINTS, type PointKind } from "../../schema/analytics/points";

const DIR = join(import.meta.dirname, "..", "..", "schema", "analytics");
const BEGIN = "<!-- points:begin (generated from points.ts by test/node/analytics-schema.test.ts) -->";
const END = "<!-- points:end -->";

function tables(): string {
  return Object.entries(POINTS)
    .map(([kind, p]) => {
      const rows = [
        ...p.blobs.map((b, i) => `| \`blob${i + 1}\` | ${b.name} | ${b.doc} |`),
        ...p.doubles.map((d, i) => `| \`double${i + 1}\` | ${d.name} | ${d.doc} |`),
      ];
      return [
        `### \`${kind}\``,
        "",
        `${p.doc} Written ${p.when}.`,
        "",
        "| column | field | meaning |",
        "|---|---|---|",
        "| `index1` | tenantId | the tenant (sampling key) |",
        ...rows,
      ].join("\n");
    })
    .join("\n\n");
}

describe("the Analytics Engine schema", () => {
  it("fits the platform's limits, and every point starts with its kind", () => {
    for (const [kind, p] of Object.entries(POINTS)) {
      expect(p.blobs.length, kind).toBeLessThanOrEqual(LIMITS.blobs);
      expect(p.doubles.length, kind).toBeLessThanOrEqual(LIMITS.doubles);
      expect(p.blobs[0]!.name).toBe("kind");
      const names = [...p.blobs, ...p.doubles].map((x) => x.name);
      expect(new Set(names).size, kind).toBe(names.length);
    }
  });

  it("is documented in schema/analytics/README.md", () => {
    const path = join(DIR, "README.md");
    const doc = readFileSync(path, "utf8");
    const start = doc.indexOf(BEGIN);
    const end = doc.indexOf(END);
    expect(start).toBeGreaterThanOrEqual(0);
    const current = doc.slice(start + BEGIN.length, end).trim();
    if (process.env.UPDATE_ANALYTICS_DOC) {
      writeFileSync(path, `${doc.slice(0, start + BEGIN.length)}\n\n${tables()}\n\n${doc.slice(end)}`);
      return;
    }
    expect(
      current,
      "run UPDATE_ANALYTICS_DOC=1 npx vitest run --config vitest.node.config.ts test/node/analytics-schema.test.ts",
    ).toBe(tables());
  });

  const views = readdirSync(join(DIR, "views")).filter((f) => f.endsWith(".sql"));

  it.each(views)("view %s names its columns as the schema does", (file) => {
    const sql = readFileSync(join(DIR, "views", file), "utf8");
    const kind = /^-- kind: (\w+)$/m.exec(sql)?.[1] as PointKind | undefined;
    expect(kind && kind in POINTS, "a '-- kind:' header naming a point kind").toBe(true);
    const schema = POINTS[kind!];
    const declared = new Map(
      [...(/^-- columns: (.+)$/m.exec(sql)?.[1] ?? "").matchAll(/(blob|double)(\d+)=(\w+)/g)].map((m) => [
        `${m[1]}${m[2]}`,
        { list: m[1], n: Number(m[2]), name: m[3] },
      ]),
    );
    for (const [column, { list, n, name }] of declared) {
      const field = (list === "blob" ? schema.blobs : schema.doubles)[n - 1];
      expect(field?.name, `${file}: ${column}`).toBe(name);
    }
    const body = sql
      .split("\n")
      .filter((l) => !l.startsWith("--"))
      .join("\n");
    for (const [used] of body.matchAll(/\b(?:blob|double)\d+\b/g))
      expect(declared.has(used), `${file}: ${used} is not in its '-- columns:' header`).toBe(true);
    expect(body).toContain(`FROM ${DATASET}`);
    expect(body).toContain(`blob1 = '${kind}'`);
  });
});
