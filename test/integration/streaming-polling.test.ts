import { describe, expect, it } from "vitest";
import { conformancePreset, connectClient } from "../helpers";
import { isResponseTo, listen, openSession, post, readMessages, SseReader, toolCall } from "../mcp-raw";

/**
 * SSE polling (SEP-1699): the conformance_resumable upstream's test_reconnection closes its reply
 * stream mid-call; the gateway resumes it upstream with GET + Last-Event-ID. A 2025-11-25 client's
 * own stream is closed too and resumed the same way; older clients keep theirs open.
 */
const ANSWER = "Answered after the stream was closed mid-call.";

describe("SSE polling through a preset on a resumable upstream", () => {
  it("closes a 2025-11-25 client's stream after the priming event; GET with Last-Event-ID brings the answer, live and again after the call ended", async () => {
    const { url } = await conformancePreset({ upstream: "conformance_resumable" });
    const session = await openSession(url, { version: "2025-11-25" });
    const res = await post(session, toolCall(1, "test_reconnection"));
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const first = new SseReader(res);
    await first.end();
    expect(first.events).toHaveLength(1);
    expect(first.events[0]).toMatchObject({ data: "", retry: 500 });
    expect(first.events[0]!.id).toMatch(/\.0$/);

    const resumed = new SseReader(await listen(session, { lastEventId: first.events[0]!.id }));
    const answer = await resumed.message(isResponseTo(1));
    expect(answer.result.content[0].text).toBe(ANSWER);
    await resumed.end();

    // The call is over now: resuming again replays the answer from the event log.
    const replay = new SseReader(await listen(session, { lastEventId: first.events[0]!.id }));
    await replay.end();
    expect(replay.events).toEqual(resumed.events);
  });

  it("gets the SDK client (which resumes by itself) the result of test_reconnection", async () => {
    const { url } = await conformancePreset({ upstream: "conformance_resumable" });
    const client = await connectClient(url);
    const result = await client.callTool({ name: "test_reconnection", arguments: {} });
    expect(result.content).toEqual([{ type: "text", text: ANSWER }]);
    await client.close();
  });

  it("answers a 2025-06-18 session on the request it made, without asking it to reconnect", async () => {
    const { url } = await conformancePreset({ upstream: "conformance_resumable" });
    const session = await openSession(url, { version: "2025-06-18" });
    const res = await post(session, toolCall(3, "test_reconnection"));
    expect(res.status).toBe(200);
    expect(await readMessages(res)).toEqual([{ jsonrpc: "2.0", id: 3, result: { content: [{ type: "text", text: ANSWER }] } }]);
  });

  it("relays progress the upstream sent before, during and after its pause to an SDK client, in order", async () => {
    const { url } = await conformancePreset({ upstream: "conformance_resumable" });
    const client = await connectClient(url);
    const seen: number[] = [];
    const result = await client.callTool({ name: "test_progress_across_pause", arguments: {} }, undefined, { onprogress: (p) => seen.push(p.progress) });
    expect(result.content).toEqual([{ type: "text", text: "Progress went on across the pause." }]);
    expect(seen).toEqual([1, 2, 3]);
    await client.close();
  });

  it("relays progress across the upstream's pause on the open stream of a 2025-06-18 session", async () => {
    const { url } = await conformancePreset({ upstream: "conformance_resumable" });
    const session = await openSession(url, { version: "2025-06-18" });
    const reader = new SseReader(await post(session, toolCall(4, "test_progress_across_pause", {}, { progressToken: 9 })));
    await reader.end();
    expect(reader.messages.map((m) => m.params?.progress ?? "answer")).toEqual([1, 2, 3, "answer"]);
    expect(reader.messages.slice(0, 3).every((m) => m.params.progressToken === 9)).toBe(true);
    expect(reader.messages[3]).toMatchObject({ id: 4, result: {} });
  });
});
