import { type LoggingMessageNotification, LoggingMessageNotificationSchema, type Progress } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { conformancePreset, connectClient } from "../helpers";
import { isResponseTo, openSession, post, type RawSession, readMessages, rpc, toolCall } from "../mcp-raw";

/** A raw tools/call; its reply read to the end, whichever form it took. */
async function rawCall(session: RawSession, id: string | number, name: string, meta?: Record<string, unknown>) {
  const res = await post(session, toolCall(id, name, {}, meta));
  return { type: res.headers.get("content-type"), messages: await readMessages(res) };
}

const logLines = (messages: any[]) => messages.filter((m) => m.method === "notifications/message").map((m) => m.params);

describe("progress through a preset", () => {
  it("relays progress notifications to the client's progress callback, with its own token", async () => {
    const client = await connectClient((await conformancePreset()).url);
    const seen: Progress[] = [];
    const result = await client.callTool({ name: "test_tool_with_progress", arguments: {} }, undefined, { onprogress: (p) => seen.push(p) });
    expect(result.isError).toBeFalsy();
    expect(seen.map((p) => p.progress)).toEqual([0, 50, 100]);
    expect(seen[0]).toMatchObject({ total: 100, message: "0%" });
    await client.close();
  });

  it("sends the upstream a token of its own, so two sessions calling with the same token at once each get only their own progress", async () => {
    const { url } = await conformancePreset();
    const [a, b] = await Promise.all([openSession(url), openSession(url)]);
    const [ra, rb] = await Promise.all([
      rawCall(a, 1, "test_progress_token", { progressToken: "same" }),
      rawCall(b, 1, "test_progress_token", { progressToken: "same" }),
    ]);
    const upstreamTokens = [ra, rb].map((r) => JSON.parse(r.messages.find(isResponseTo(1)).result.content[0].text).progressToken);
    expect(upstreamTokens[0]).toMatch(/^mcpgate-p\d+$/);
    expect(upstreamTokens[1]).toMatch(/^mcpgate-p\d+$/);
    expect(upstreamTokens[0]).not.toBe(upstreamTokens[1]);
    for (const r of [ra, rb]) {
      expect(r.type).toBe("text/event-stream");
      // Progress 2 was for another token: it stays upstream.
      expect(r.messages.filter((m) => m.method === "notifications/progress")).toEqual([
        { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "same", progress: 1 } },
      ]);
    }
  });

  it("keeps a numeric progress token numeric", async () => {
    const { url } = await conformancePreset();
    const r = await rawCall(await openSession(url), 2, "test_tool_with_progress", { progressToken: 17 });
    expect(r.messages.filter((m) => m.method === "notifications/progress").map((m) => m.params.progressToken)).toEqual([17, 17, 17]);
  });

  it("answers a call without a progress token with plain JSON, and gives the upstream no token", async () => {
    const { url } = await conformancePreset();
    const r = await rawCall(await openSession(url), 3, "test_progress_token");
    expect(r.type).toBe("application/json");
    expect(JSON.parse(r.messages[0].result.content[0].text)).toEqual({ progressToken: null });
  });
});

describe("log lines through a preset", () => {
  it("relays the log lines of a call to a client that set a level", async () => {
    const client = await connectClient((await conformancePreset()).url);
    const logs: LoggingMessageNotification["params"][] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => {
      logs.push(n.params);
    });
    await client.setLoggingLevel("debug");
    await client.callTool({ name: "test_tool_with_logging", arguments: {} });
    expect(logs.map((l) => l.data)).toEqual(["Tool execution started", "Tool processing data", "Tool execution completed"]);
    await client.close();
  });

  it("sends no log lines to a session that never called logging/setLevel, and answers it with plain JSON", async () => {
    const { url } = await conformancePreset();
    const r = await rawCall(await openSession(url), 1, "test_log_levels");
    expect(r.type).toBe("application/json");
    expect(r.messages).toHaveLength(1);
    expect(r.messages[0].result.content[0].text).toBe("Sent debug, info, warning and error lines.");
  });

  it("relays only lines at or above the session's level", async () => {
    const { url } = await conformancePreset();
    const session = await openSession(url);
    await rpc(session, 1, "logging/setLevel", { level: "warning" });
    const r = await rawCall(session, 2, "test_log_levels");
    expect(logLines(r.messages).map((l) => l.level)).toEqual(["warning", "error"]);
    expect(r.messages.at(-1)).toMatchObject({ id: 2, result: {} });
  });

  it("filters out the info lines of a session at level error, whose reply then stays JSON", async () => {
    const { url } = await conformancePreset();
    const session = await openSession(url);
    await rpc(session, 1, "logging/setLevel", { level: "error" });
    const r = await rawCall(session, 2, "test_tool_with_logging");
    expect(r.type).toBe("application/json");
    expect(logLines(r.messages)).toEqual([]);
  });

  it("keeps each session's level its own, though they share one upstream session", async () => {
    const { url } = await conformancePreset();
    const verbose = await openSession(url);
    const quiet = await openSession(url);
    await rpc(verbose, 1, "logging/setLevel", { level: "debug" });
    await rpc(quiet, 1, "logging/setLevel", { level: "error" });
    const r = await rawCall(verbose, 2, "test_tool_with_logging");
    expect(logLines(r.messages).map((l) => l.data)).toEqual(["Tool execution started", "Tool processing data", "Tool execution completed"]);
    const q = await rawCall(quiet, 2, "test_log_levels");
    expect(logLines(q.messages).map((l) => l.level)).toEqual(["error"]);
  });
  it("refuses logging/setLevel with a level that is not one of the eight syslog levels (-32602)", async () => {
    const { url } = await conformancePreset();
    const session = await openSession(url);
    const answer = await rpc(session, 1, "logging/setLevel", { level: "verbose" });
    expect(answer.error).toMatchObject({ code: -32602 });
  });
});

describe("requests from the upstream the gateway answers itself", () => {
  it("answers an upstream ping without involving the client, and the reply stays JSON", async () => {
    const { url } = await conformancePreset();
    const r = await rawCall(await openSession(url), 1, "test_ping_client");
    expect(r.type).toBe("application/json");
    expect(r.messages[0].result.content).toEqual([{ type: "text", text: "The client answered the ping." }]);
  });
});
