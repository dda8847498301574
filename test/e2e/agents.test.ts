import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startRuntime, waitForRun, type Runtime } from "./support/runtime";

let rt: Runtime;
let model: Server;
const calls: { auth: string | undefined; body: { model: string; messages: { content: string }[] } }[] = [];

beforeAll(async () => {
  // A mocked OpenAI-compatible endpoint: the first call is rate limited, the rest answer.
  model = createServer((req, res) => {
    let text = "";
    req.on("data", (d) => (text += d));
    req.on("end", () => {
      calls.push({ auth: req.headers.authorization, body: JSON.parse(text) });
      if (calls.length === 1) return res.writeHead(429, { "retry-after": "1" }).end("slow down");
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          model: "mock-large",
          choices: [{ message: { content: "export const add = (a: number, b: number) => a + b;" } }],
          usage: { prompt_tokens: 123, completion_tokens: 45 },
        }),
      );
    });
  });
  await new Promise<void>((r) => model.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(model.address() as AddressInfo).port}/v1`;
  rt = await startRuntime({
    AI_PROVIDER: "openai",
    OPENAI_BASE_URL: base,
    OPENAI_API_KEY: "sk-mock",
    AI_MODEL: "mock-large",
  });
});

afterAll(async () => {
  await rt?.stop();
  model?.close();
});

it("an agent step against a mocked OpenAI-compatible endpoint waits out a 429, then records the mocked token counts", async () => {
  const res = await rt.fetch("/v1/runs", {
    method: "POST",
    json: { project: "ai", steps: [{ id: "write", type: "agent.generate", input: { prompt: "Write add()." } }] },
  });
  const { id } = (await res.json()) as { id: string };
  const run = (await waitForRun(rt, id)) as unknown as {
    status: string;
    steps: { attempts: number; output: { text: string; tokensIn: number; tokensOut: number; model: string } }[];
  };
  expect(run.status).toBe("succeeded");
  expect(run.steps[0]!.attempts).toBe(2);
  expect(run.steps[0]!.output).toMatchObject({
    model: "mock-large",
    tokensIn: 123,
    tokensOut: 45,
    text: expect.stringContaining("add"),
  });
  expect(calls.every((c) => c.auth === "Bearer sk-mock" && c.body.model === "mock-large")).toBe(true);
  const usage = (
    (await (await rt.fetch("/v1/usage")).json()) as { items: { key: string; tokensIn: number; tokensOut: number }[] }
  ).items;
  expect(usage.find((u) => u.key === "ai")).toMatchObject({ tokensIn: 123, tokensOut: 45 });
});
