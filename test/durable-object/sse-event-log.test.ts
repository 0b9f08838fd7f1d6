import { describe, expect, it } from "vitest";
import { EVENT_TTL_MS, eventId, MAX_EVENTS_PER_STREAM, parseEventId, SseEventLog } from "../../src/streaming/sse-event-log";
import { inFreshObject } from "../preset-object";

/** Runs `fn` with an event log on the SQLite storage of a fresh Durable Object. */
const withLog = <T>(fn: (log: SseEventLog, sql: SqlStorage) => T): Promise<T> =>
  inFreshObject((state) => fn(new SseEventLog(state.storage.sql), state.storage.sql));

describe("parseEventId", () => {
  it("reads the stream and the position of an id the log made", () => {
    expect(parseEventId(eventId("AbC_-0123456789xyz", 42))).toEqual({ streamId: "AbC_-0123456789xyz", seq: 42 });
    expect(parseEventId("abcdefgh.0")).toEqual({ streamId: "abcdefgh", seq: 0 });
  });

  it.each([
    ["no position", "abcdefgh"],
    ["an empty position", "abcdefgh."],
    ["a stream id shorter than 8", "abcdefg.1"],
    ["a stream id longer than 64", `${"a".repeat(65)}.1`],
    ["a negative position", "abcdefgh.-1"],
    ["a position of 10 digits", "abcdefgh.1234567890"],
    ["a fractional position", "abcdefgh.1.5"],
    ["characters outside [A-Za-z0-9_-]", "abcd/efgh.1"],
    ["surrounding whitespace", " abcdefgh.1"],
    ["another server's event id", "42b919c8-35d4-4bd3-a631-7dc8aa97b9fa_00000001"],
  ])("rejects %s", (_what, value) => {
    expect(parseEventId(value)).toBeNull();
  });
});

describe("SseEventLog", () => {
  it("numbers a stream's events from 1 (0 is the priming event) and replays those after a position", async () => {
    await withLog((log) => {
      const id = log.open("session-1", "call", 7);
      expect(log.append(id, "a")).toBe(`${id}.1`);
      expect(log.append(id, "b")).toBe(`${id}.2`);
      expect(log.append(id, "c")).toBe(`${id}.3`);
      expect(log.after(id, 0).map((e) => e.data)).toEqual(["a", "b", "c"]);
      expect(log.after(id, 2)).toEqual([{ id: `${id}.3`, data: "c" }]);
      expect(log.after(id, 3)).toEqual([]);
    });
  });

  it("keeps streams apart", async () => {
    await withLog((log) => {
      const a = log.open("s", "call", 1);
      const b = log.open("s", "call", 2);
      log.append(a, "for a");
      log.append(b, "for b");
      expect(log.after(a, 0).map((e) => e.data)).toEqual(["for a"]);
      expect(log.after(b, 0)).toEqual([{ id: `${b}.1`, data: "for b" }]);
    });
  });

  it("remembers whose stream it is, its kind, the request id (string or number) and whether it is done", async () => {
    await withLog((log) => {
      const call = log.open("s1", "call", "req-1");
      const numbered = log.open("s1", "call", 5);
      const standalone = log.open("s2", "standalone", null);
      expect(log.stream(call)).toEqual({ id: call, sessionId: "s1", kind: "call", requestId: "req-1", done: false });
      expect(log.stream(numbered)?.requestId).toBe(5);
      expect(log.stream(standalone)).toMatchObject({ sessionId: "s2", kind: "standalone", requestId: null });
      log.finish(call);
      expect(log.stream(call)?.done).toBe(true);
      expect(log.stream("no-such-stream")).toBeNull();
    });
  });

  it("continues a stream's numbering after the object restarts (a new log on the same storage)", async () => {
    await withLog((log, sql) => {
      const id = log.open("s", "call", 1);
      log.append(id, "a");
      log.append(id, "b");
      const reopened = new SseEventLog(sql);
      expect(reopened.append(id, "c")).toBe(`${id}.3`);
      expect(reopened.after(id, 0).map((e) => e.data)).toEqual(["a", "b", "c"]);
    });
  });

  it(`keeps only the last ${MAX_EVENTS_PER_STREAM} events of a stream`, async () => {
    await withLog((log) => {
      const id = log.open("s", "standalone", null);
      for (let i = 1; i <= MAX_EVENTS_PER_STREAM + 5; i++) log.append(id, `e${i}`);
      const kept = log.after(id, 0);
      expect(kept).toHaveLength(MAX_EVENTS_PER_STREAM);
      expect(kept[0]).toEqual({ id: `${id}.6`, data: "e6" });
      expect(kept.at(-1)?.data).toBe(`e${MAX_EVENTS_PER_STREAM + 5}`);
    });
  });

  it("forgets every stream of a session that ended, and only those", async () => {
    await withLog((log) => {
      const a = log.open("ending", "call", 1);
      const b = log.open("ending", "standalone", null);
      const other = log.open("staying", "call", 1);
      for (const id of [a, b, other]) log.append(id, "x");
      log.dropSession("ending");
      expect(log.stream(a)).toBeNull();
      expect(log.stream(b)).toBeNull();
      expect(log.after(a, 0)).toEqual([]);
      expect(log.stream(other)).not.toBeNull();
      expect(log.after(other, 0)).toHaveLength(1);
    });
  });

  it(`drops events and idle streams older than ${EVENT_TTL_MS / 60_000} minutes when a stream opens`, async () => {
    await withLog((log) => {
      const t0 = Date.now();
      const old = log.open("s", "call", 1, t0);
      log.append(old, "old", t0);
      const busy = log.open("s", "standalone", null, t0);
      log.append(busy, "old too", t0);
      const later = t0 + EVENT_TTL_MS + 1_000;
      log.append(busy, "recent", later - 10);
      log.open("s", "call", 2, later);
      expect(log.stream(old)).toBeNull();
      expect(log.after(old, 0)).toEqual([]);
      // A stream that was written to recently stays, with only its recent events.
      expect(log.stream(busy)).not.toBeNull();
      expect(log.after(busy, 0).map((e) => e.data)).toEqual(["recent"]);
    });
  });
});
