import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { api, createRun } from "../support/api";

afterEach(() => reset());

function parseSse(text: string): { id: string; event: string; data: { type: string; seq: number } }[] {
  return text
    .split("\n\n")
    .filter((block) => block.trim())
    .map((block) => {
      const fields = Object.fromEntries(
        block.split("\n").map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim()]),
      );
      return { id: fields.id!, event: fields.event!, data: JSON.parse(fields.data!) };
    });
}

describe("GET /v1/runs/{id}/events as text/event-stream", () => {
  it("streams every event live, in order, and ends after the run's final event", async () => {
    const run = await createRun({
      project: "p",
      steps: [
        { id: "a", type: "system.sleep", input: { ms: 200 } },
        { id: "b", type: "system.echo", dependsOn: ["a"] },
      ],
    });
    const res = await api(`/v1/runs/${run.id}/events`, { headers: { accept: "text/event-stream" } });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = parseSse(await res.text()); // returns only because the stream ends
    expect(events.at(-1)?.event).toBe("run.succeeded");
    expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1));
    expect(events.every((e) => e.event === e.data.type)).toBe(true);
    expect(events.filter((e) => e.event === "step.succeeded")).toHaveLength(2);
  });

  it("resumes after Last-Event-ID", async () => {
    const run = await createRun({ project: "p", steps: [{ id: "a", type: "system.echo", input: {} }] });
    const all = parseSse(
      await (await api(`/v1/runs/${run.id}/events`, { headers: { accept: "text/event-stream" } })).text(),
    );
    const rest = parseSse(
      await (
        await api(`/v1/runs/${run.id}/events`, { headers: { accept: "text/event-stream", "last-event-id": "3" } })
      ).text(),
    );
    expect(rest.map((e) => e.id)).toEqual(all.slice(3).map((e) => e.id));
  });
});
