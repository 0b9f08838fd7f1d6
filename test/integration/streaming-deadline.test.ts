import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { conformancePreset, connectClient } from "../helpers";
import { isResponseTo, openSession, post, rpc, SseReader, toolCall } from "../mcp-raw";

/**
 * The server's timeoutMs is an idle timeout for tools/call: progress restarts it, log lines do
 * not, and it stops while a relayed request waits for the client.
 */
const TIMEOUT_MS = 200;

describe("the idle timeout of a tools/call", () => {
  it("lets a call run past timeoutMs while it reports progress", async () => {
    const { url } = await conformancePreset({ timeoutMs: TIMEOUT_MS });
    const session = await openSession(url);
    const reader = new SseReader(await post(session, toolCall(1, "test_slow_progress", { steps: 4, intervalMs: 120 }, { progressToken: "p" })));
    await reader.end();
    expect(
      reader.messages.filter((m) => m.method === "notifications/progress").map((m) => m.params.progress),
      JSON.stringify(reader.messages),
    ).toEqual([1, 2, 3, 4]);
    expect(reader.messages.at(-1)).toMatchObject({ id: 1, result: { content: [{ type: "text", text: "Ran 4 steps of 120 ms." }] } });
  });

  it("ends the same call at timeoutMs when it reports no progress", async () => {
    const { url } = await conformancePreset({ timeoutMs: TIMEOUT_MS });
    const session = await openSession(url);
    const started = Date.now();
    const res = await post(session, toolCall(1, "test_slow_progress", { steps: 4, intervalMs: 120 }));
    expect(res.headers.get("content-type")).toBe("application/json");
    expect((await res.json<any>()).error).toMatchObject({ code: -32011, data: { upstream: "lib", reason: "timeout" } });
    expect(Date.now() - started).toBeLessThan(450);
  });

  it("does not let log lines keep a call alive", async () => {
    const { url } = await conformancePreset({ upstream: "hostile", timeoutMs: 300 });
    const session = await openSession(url);
    await rpc(session, 1, "logging/setLevel", { level: "debug" });
    const started = Date.now();
    const reader = new SseReader(await post(session, toolCall(2, "forever")));
    await reader.end(3_000);
    expect(reader.messages.filter((m) => m.method === "notifications/message").length).toBeGreaterThan(0);
    expect(reader.messages.find(isResponseTo(2)).error).toMatchObject({ code: -32011, data: { reason: "timeout" } });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it("stops while a relayed elicitation waits for the client", async () => {
    const client = await connectClient((await conformancePreset({ timeoutMs: TIMEOUT_MS })).url, { capabilities: { elicitation: {} } });
    client.setRequestHandler(ElicitRequestSchema, async () => {
      await new Promise((resolve) => setTimeout(resolve, 3 * TIMEOUT_MS));
      return { action: "accept", content: { username: "slow", email: "slow@example.com" } };
    });
    const result = await client.callTool({ name: "test_elicitation", arguments: { message: "take your time" } });
    expect((result.content as { text: string }[])[0]!.text).toContain('"username":"slow"');
    await client.close();
  });
});
