import { describe, expect, it } from "vitest";
import { ClientStream, SSE_RETRY_MS } from "../../src/streaming/client-stream";
import { SseEventLog } from "../../src/streaming/sse-event-log";
import { inFreshObject } from "../preset-object";

/** Runs `fn` with an event log on the SQLite storage of a fresh Durable Object. */
const withLog = <T>(fn: (log: SseEventLog) => Promise<T>): Promise<T> => inFreshObject((state) => fn(new SseEventLog(state.storage.sql)));

const decoder = new TextDecoder();

/** Reads a body until it closes. */
const readAll = (body: ReadableStream<Uint8Array>) => new Response(body).text();

/** Reads a body that stays open until `text` has arrived; then lets go of it. */
async function readUntil(body: ReadableStream<Uint8Array>, text: string): Promise<string> {
  const reader = body.getReader();
  let seen = "";
  while (!seen.includes(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return seen;
}

describe("ClientStream", () => {
  it("starts a fresh connection with a priming event (id seq 0, retry, empty data) for a polling client", async () => {
    await withLog(async (log) => {
      const id = log.open("s", "call", 1);
      const stream = new ClientStream(log, id, "s", true);
      const body = stream.connect(null);
      stream.end('{"n":1}');
      expect(await readAll(body)).toBe(`id: ${id}.0\nretry: ${SSE_RETRY_MS}\ndata: \n\nid: ${id}.1\ndata: {"n":1}\n\n`);
    });
  });

  it("sends no priming event to an older client", async () => {
    await withLog(async (log) => {
      const id = log.open("s", "call", 1);
      const stream = new ClientStream(log, id, "s", false);
      const body = stream.connect(null);
      stream.send('{"n":1}');
      stream.end('{"n":2}');
      expect(await readAll(body)).toBe(`id: ${id}.1\ndata: {"n":1}\n\nid: ${id}.2\ndata: {"n":2}\n\n`);
    });
  });

  it("logs what it sends while no client is connected, and replays it to the client that resumes", async () => {
    await withLog(async (log) => {
      const id = log.open("s", "call", 1);
      const stream = new ClientStream(log, id, "s", true);
      const first = stream.connect(null);
      stream.send('{"n":1}');
      stream.disconnect();
      expect(await readAll(first)).toBe(`id: ${id}.0\nretry: ${SSE_RETRY_MS}\ndata: \n\nid: ${id}.1\ndata: {"n":1}\n\n`);
      expect(stream.connected).toBe(false);
      stream.send('{"n":2}');
      stream.send('{"n":3}');
      const resumed = stream.connect(1);
      stream.end('{"n":4}');
      expect(await readAll(resumed)).toBe(`id: ${id}.2\ndata: {"n":2}\n\nid: ${id}.3\ndata: {"n":3}\n\nid: ${id}.4\ndata: {"n":4}\n\n`);
    });
  });

  it("closes the earlier connection when a new one comes", async () => {
    await withLog(async (log) => {
      const id = log.open("s", "standalone", null);
      const stream = new ClientStream(log, id, "s", false);
      const first = stream.connect(null);
      const second = stream.connect(null);
      expect(stream.connection).toBe(2);
      stream.send('{"n":1}');
      expect(await readAll(first)).toBe("");
      expect(await readUntil(second, '{"n":1}')).toBe(`id: ${id}.1\ndata: {"n":1}\n\n`);
    });
  });

  it("is done after end(): it sends nothing more, and the log marks the stream finished", async () => {
    await withLog(async (log) => {
      const id = log.open("s", "call", 1);
      const stream = new ClientStream(log, id, "s", false);
      const body = stream.connect(null);
      stream.end('{"answer":true}');
      stream.send('{"late":true}');
      expect(stream.done).toBe(true);
      expect(await readAll(body)).toBe(`id: ${id}.1\ndata: {"answer":true}\n\n`);
      expect(log.after(id, 0)).toHaveLength(1);
      expect(log.stream(id)?.done).toBe(true);
    });
  });

  it("replays a finished stream after a position and closes at once", async () => {
    await withLog(async (log) => {
      const id = log.open("s", "call", 1);
      const original = new ClientStream(log, id, "s", true);
      original.send('{"n":1}');
      original.end('{"n":2}');
      const late = new ClientStream(log, id, "s", true);
      expect(await readAll(late.connect(1, true))).toBe(`id: ${id}.2\ndata: {"n":2}\n\n`);
      expect(late.done).toBe(true);
    });
  });

  it("notes when its last connection ended", async () => {
    await withLog(async (log) => {
      const stream = new ClientStream(log, log.open("s", "standalone", null), "s", false);
      const body = stream.connect(null);
      expect(stream.detachedAt).toBeNull();
      const before = Date.now();
      stream.disconnect();
      expect(stream.detachedAt).toBeGreaterThanOrEqual(before);
      await readAll(body);
    });
  });
});
