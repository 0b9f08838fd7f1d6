import { env, evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { presetStub } from "../../src/edge/preset-stub";
import { conformancePreset } from "../helpers";
import { isResponseTo, listen, openSession, post, type RawSession, SseReader, toolCall } from "../mcp-raw";
import { closeIdleUpstreams } from "../preset-object";

/** Makes a call whose reply streams (it relays progress) and reads it to the end. */
async function streamedCall(session: RawSession, id: string | number = 1): Promise<{ res: Response; reader: SseReader }> {
  const res = await post(session, toolCall(id, "test_tool_with_progress", {}, { progressToken: "tok" }));
  const reader = new SseReader(res);
  await reader.end();
  return { res, reader };
}

/** The stream part and the position of an event id. */
const parts = (id: string | undefined) => {
  const match = /^(.+)\.(\d+)$/.exec(id ?? "");
  if (!match) throw new Error(`not a gateway event id: ${id}`);
  return { stream: match[1]!, seq: Number(match[2]) };
};

describe("SSE framing of a streamed tools/call reply", () => {
  it("gives a 2025-11-25 session a priming event (<stream>.0, retry 500, no data), then numbered events ending with the answer", async () => {
    const { url } = await conformancePreset();
    const { res, reader } = await streamedCall(await openSession(url, { version: "2025-11-25" }));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const [priming, ...rest] = reader.events;
    expect(priming).toMatchObject({ data: "", retry: 500 });
    const { stream } = parts(priming!.id);
    expect(parts(priming!.id).seq).toBe(0);
    expect(rest.map((e) => e.id)).toEqual(rest.map((_, i) => `${stream}.${i + 1}`));
    expect(rest.map((e) => JSON.parse(e.data).method ?? "answer")).toEqual([
      "notifications/progress",
      "notifications/progress",
      "notifications/progress",
      "answer",
    ]);
    expect(JSON.parse(rest.at(-1)!.data)).toMatchObject({ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text" }] } });
  });

  it("gives a 2025-06-18 session no priming event: its first event is <stream>.1", async () => {
    const { url } = await conformancePreset();
    const { reader } = await streamedCall(await openSession(url, { version: "2025-06-18" }));
    expect(reader.events[0]!.data).not.toBe("");
    expect(reader.events.some((e) => e.retry !== undefined)).toBe(false);
    expect(parts(reader.events[0]!.id).seq).toBe(1);
    expect(reader.messages.at(-1)).toMatchObject({ id: 1, result: {} });
  });

  it("gives two calls' streams different stream ids", async () => {
    const { url } = await conformancePreset();
    const session = await openSession(url);
    const a = await streamedCall(session, 1);
    const b = await streamedCall(session, 2);
    expect(parts(a.reader.events[0]!.id).stream).not.toBe(parts(b.reader.events[0]!.id).stream);
  });
});

describe("resuming a stream with GET and Last-Event-ID", () => {
  it("replays the events of a finished call after the one named, with the same ids, ending with the answer", async () => {
    const { url } = await conformancePreset();
    const session = await openSession(url);
    const { reader: original } = await streamedCall(session);
    const res = await listen(session, { lastEventId: original.events[1]!.id });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const replay = new SseReader(res);
    await replay.end();
    expect(replay.events).toEqual(original.events.slice(2).map(({ id, data }) => ({ id, data })));
    expect(replay.messages.at(-1)).toMatchObject({ id: 1, result: {} });
  });

  it("replays from the event log after the preset's object restarted", async () => {
    const p = await conformancePreset();
    const session = await openSession(p.url);
    const { reader: original } = await streamedCall(session);
    const stub = presetStub(env, p.owner.handle, p.slug);
    // An open upstream session (its GET stream is a fetch in flight) would hold the object in memory.
    await closeIdleUpstreams(stub);
    await evictDurableObject(stub);
    const replay = new SseReader(await listen(session, { lastEventId: original.events[0]!.id }));
    await replay.end();
    expect(replay.messages).toEqual(original.messages);
  });

  it("refuses with 400 a Last-Event-ID of another session's stream", async () => {
    const { url } = await conformancePreset();
    const mine = await openSession(url);
    const theirs = await openSession(url);
    const { reader } = await streamedCall(theirs);
    const res = await listen(mine, { lastEventId: reader.events[0]!.id });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } });
  });

  it.each([
    ["names no stream of the gateway", "AAAAAAAAAAAAAAAAAAAAAA.3"],
    ["is not an event id the gateway makes", "not-an-event-id"],
  ])("refuses with 400 a Last-Event-ID that %s", async (_what, lastEventId) => {
    const { url } = await conformancePreset();
    const res = await listen(await openSession(url), { lastEventId });
    expect(res.status).toBe(400);
    expect((await res.json<any>()).error.code).toBe(-32000);
  });

  it("refuses with 400 a malformed Last-Event-ID header", async () => {
    const { url } = await conformancePreset();
    const res = await listen(await openSession(url), { lastEventId: "a b" });
    expect(res.status).toBe(400);
    await res.body?.cancel();
  });
});

describe("GET of the MCP endpoint", () => {
  it("refuses with 400 a GET without Mcp-Session-Id", async () => {
    const { url } = await conformancePreset();
    const res = await listen(url);
    expect(res.status).toBe(400);
    expect((await res.json<any>()).error.message).toContain("Mcp-Session-Id");
  });

  it("refuses with 406 a GET whose Accept does not list text/event-stream", async () => {
    const { url } = await conformancePreset();
    const res = await listen(await openSession(url), { accept: "application/json" });
    expect(res.status).toBe(406);
    await res.body?.cancel();
  });

  it("answers 404 to a GET with a session the preset does not know", async () => {
    const { url } = await conformancePreset();
    const res = await listen({ url, id: "no-such-session", version: "2025-11-25" });
    expect(res.status).toBe(404);
    await res.body?.cancel();
  });

  it("does not let another caller listen with a session it did not open", async () => {
    const p = await conformancePreset();
    const session = await openSession(p.url);
    const res = await listen(session, { token: p.owner.token });
    expect(res.status).toBe(404);
    await res.body?.cancel();
  });

  it("does not let a session of one preset listen on another", async () => {
    const a = await conformancePreset();
    const b = await conformancePreset();
    const session = await openSession(a.url);
    const res = await listen({ ...session, url: b.url });
    expect(res.status).toBe(404);
    await res.body?.cancel();
  });
});

describe("a streamed reply the client drops", () => {
  it("can be resumed with the events the client missed, including the answer", async () => {
    const { url } = await conformancePreset();
    const session = await openSession(url);
    const res = await post(session, toolCall(7, "test_tool_with_progress", {}, { progressToken: "tok" }));
    const first = new SseReader(res);
    await first.until((r) => r.messages.length >= 1, 3_000, "the first progress event");
    first.cancel();
    const lastSeen = first.events.at(-1)!.id;
    const resumed = new SseReader(await listen(session, { lastEventId: lastSeen }));
    const answer = await resumed.message(isResponseTo(7));
    expect(answer.result.content[0].text).toContain("progress was reported");
    const ids = [...first.events, ...resumed.events].map((e) => parts(e.id).seq);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
