import { describe, expect, it } from "vitest";
import type { ClientStream } from "../../src/streaming/client-stream";
import { CallRelay, type RelayHost, type RelayOptions } from "../../src/tools/call-relay";
import type { Deadline } from "../../src/upstream/deadline";

/** What the relay did to the client's stream, in order. */
type StreamOp = { op: "connect" } | { op: "send"; message: any } | { op: "end"; body: string } | { op: "disconnect" };

/** A RelayHost that records everything the relay asks of it. */
function fakeHost(opts: { wantsLog?: (level: unknown) => boolean } = {}) {
  const ops: StreamOp[] = [];
  const upstream: any[] = [];
  const other: any[] = [];
  const registered: string[] = [];
  const forgotten: string[] = [];
  let opens = 0;
  let seq = 0;
  const stream = {
    connect: () => {
      ops.push({ op: "connect" });
      return new ReadableStream<Uint8Array>();
    },
    send: (data: string) => ops.push({ op: "send", message: JSON.parse(data) }),
    end: (body: string) => ops.push({ op: "end", body }),
    disconnect: () => ops.push({ op: "disconnect" }),
  };
  const host: RelayHost = {
    openStream: () => {
      opens++;
      return stream as unknown as ClientStream;
    },
    registerRequest: () => {
      const id = `mcpgate-s${++seq}`;
      registered.push(id);
      return id;
    },
    forgetRequest: (id) => forgotten.push(id),
    respondUpstream: (m) => upstream.push(m),
    wantsLog: opts.wantsLog ?? (() => true),
    onOtherNotification: (m) => other.push(m),
  };
  return {
    host,
    ops,
    upstream,
    other,
    registered,
    forgotten,
    get opens() {
      return opens;
    },
    sent: () => ops.filter((o): o is { op: "send"; message: any } => o.op === "send").map((o) => o.message),
  };
}

/** A Deadline stand-in counting what the relay did to the clock. */
function fakeDeadline() {
  const counts = { touch: 0, hold: 0, release: 0 };
  const deadline = {
    touch: () => counts.touch++,
    hold: () => counts.hold++,
    release: () => counts.release++,
  };
  return { deadline: deadline as unknown as Deadline, counts };
}

function relayWith(opts: Partial<Omit<RelayOptions, "deadline">> = {}, hostOpts?: Parameters<typeof fakeHost>[0]) {
  const h = fakeHost(hostOpts);
  const d = fakeDeadline();
  const relay = new CallRelay(h.host, {
    capabilities: {},
    progressToken: { client: "client-token", upstream: "mcpgate-p7" },
    polling: false,
    ...opts,
    deadline: d.deadline,
  });
  return { relay, h, d };
}

const progress = (token: string | number, value: number) => ({
  jsonrpc: "2.0",
  method: "notifications/progress",
  params: { progressToken: token, progress: value },
});
const request = (id: string | number, method: string, params?: Record<string, unknown>) => ({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) });

describe("CallRelay: a call with nothing to relay", () => {
  it("never opens a stream, and finish() says the answer did not go out on one", async () => {
    const { relay, h } = relayWith();
    expect(relay.finish('{"jsonrpc":"2.0","id":1,"result":{}}')).toBe(false);
    expect(relay.streaming).toBe(false);
    expect(h.opens).toBe(0);
    expect(h.ops).toEqual([]);
  });

  it("ignores stray responses and messages without a method", () => {
    const { relay, h } = relayWith();
    relay.onMessage({ jsonrpc: "2.0", id: 5, result: {} });
    relay.onMessage({ jsonrpc: "2.0" });
    expect(h.opens).toBe(0);
    expect(h.upstream).toEqual([]);
  });
});

describe("CallRelay: progress", () => {
  it("relays progress for the call's upstream token under the client's token, and restarts the idle clock", async () => {
    const { relay, h, d } = relayWith();
    relay.onMessage(progress("mcpgate-p7", 10));
    expect(relay.streaming).toBe(true);
    await expect(relay.opened).resolves.toBeInstanceOf(ReadableStream);
    expect(h.sent()).toEqual([{ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "client-token", progress: 10 } }]);
    expect(d.counts.touch).toBe(1);
  });

  it("keeps a numeric client token numeric", () => {
    const { relay, h } = relayWith({ progressToken: { client: 42, upstream: "mcpgate-p1" } });
    relay.onMessage(progress("mcpgate-p1", 1));
    expect(h.sent()[0].params.progressToken).toBe(42);
  });

  it("drops progress for any other token (another client's call, or the client's own token echoed)", () => {
    const { relay, h, d } = relayWith();
    relay.onMessage(progress("mcpgate-p8", 1));
    relay.onMessage(progress("client-token", 2));
    expect(h.opens).toBe(0);
    expect(d.counts.touch).toBe(0);
  });

  it("drops progress when the client gave no token", () => {
    const { relay, h } = relayWith({ progressToken: undefined });
    relay.onMessage(progress("mcpgate-p7", 1));
    expect(h.opens).toBe(0);
  });
});

describe("CallRelay: log lines", () => {
  it("relays a log line the session wants, without restarting the idle clock", () => {
    const { relay, h, d } = relayWith({}, { wantsLog: (level) => level === "error" });
    relay.onMessage({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "quiet" } });
    expect(h.opens).toBe(0);
    relay.onMessage({ jsonrpc: "2.0", method: "notifications/message", params: { level: "error", data: "loud" } });
    expect(h.sent()).toEqual([{ jsonrpc: "2.0", method: "notifications/message", params: { level: "error", data: "loud" } }]);
    expect(d.counts.touch).toBe(0);
  });
});

describe("CallRelay: requests to the client", () => {
  it("relays a request the client declared under a gateway id, stops the clock, and routes the answer back under the upstream id", () => {
    const { relay, h, d } = relayWith({ capabilities: { sampling: {} } });
    relay.onMessage(request(3, "sampling/createMessage", { maxTokens: 5 }));
    expect(h.sent()).toEqual([{ jsonrpc: "2.0", id: "mcpgate-s1", method: "sampling/createMessage", params: { maxTokens: 5 } }]);
    expect(d.counts.hold).toBe(1);
    expect(h.upstream).toEqual([]);

    relay.answer("mcpgate-s1", { result: { role: "assistant" } });
    expect(h.upstream).toEqual([{ jsonrpc: "2.0", id: 3, result: { role: "assistant" } }]);
    expect(d.counts.release).toBe(1);
    expect(h.forgotten).toEqual(["mcpgate-s1"]);
  });

  it("routes a client's error answer upstream as an error", () => {
    const { relay, h } = relayWith({ capabilities: { roots: {} } });
    relay.onMessage(request("r-1", "roots/list"));
    expect(h.sent()[0]).toEqual({ jsonrpc: "2.0", id: "mcpgate-s1", method: "roots/list" });
    relay.answer("mcpgate-s1", { error: { code: -1, message: "no" } });
    expect(h.upstream).toEqual([{ jsonrpc: "2.0", id: "r-1", error: { code: -1, message: "no" } }]);
  });

  it("answers once: a second answer, or one for an id it never issued, goes nowhere", () => {
    const { relay, h, d } = relayWith({ capabilities: { elicitation: {} } });
    relay.onMessage(request(1, "elicitation/create", { message: "hi" }));
    relay.answer("mcpgate-s1", { result: { action: "decline" } });
    relay.answer("mcpgate-s1", { result: { action: "accept" } });
    relay.answer("mcpgate-s9", { result: {} });
    expect(h.upstream).toEqual([{ jsonrpc: "2.0", id: 1, result: { action: "decline" } }]);
    expect(d.counts.release).toBe(1);
  });

  it.each([
    ["sampling/createMessage", "sampling"],
    ["elicitation/create", "elicitation"],
    ["roots/list", "roots"],
  ])("refuses %s at once with -32601 when the client did not declare %s", (method, capability) => {
    const { relay, h, d } = relayWith({ capabilities: { other: {} } });
    relay.onMessage(request(9, method));
    expect(h.upstream).toEqual([{ jsonrpc: "2.0", id: 9, error: { code: -32601, message: `The client did not declare the ${capability} capability.` } }]);
    expect(h.opens).toBe(0);
    expect(h.registered).toEqual([]);
    expect(d.counts.hold).toBe(0);
  });

  it("refuses a url-mode elicitation unless the client declared elicitation.url", () => {
    const form = relayWith({ capabilities: { elicitation: { form: {} } } });
    form.relay.onMessage(request(1, "elicitation/create", { mode: "url", url: "https://example.com" }));
    expect(form.h.upstream).toEqual([
      { jsonrpc: "2.0", id: 1, error: { code: -32601, message: "The client did not declare the elicitation.url capability." } },
    ]);

    const url = relayWith({ capabilities: { elicitation: { url: {} } } });
    url.relay.onMessage(request(1, "elicitation/create", { mode: "url", url: "https://example.com" }));
    expect(url.h.upstream).toEqual([]);
    expect(url.h.sent()[0]).toMatchObject({ id: "mcpgate-s1", method: "elicitation/create" });
  });

  it("refuses a request method it does not relay with -32601", () => {
    const { relay, h } = relayWith({ capabilities: { sampling: {}, elicitation: {}, roots: {} } });
    relay.onMessage(request(4, "tools/call", { name: "x" }));
    expect(h.upstream).toEqual([{ jsonrpc: "2.0", id: 4, error: { code: -32601, message: "Method not found: tools/call" } }]);
    expect(h.opens).toBe(0);
  });

  it("answers an upstream ping itself, without bothering the client", () => {
    const { relay, h } = relayWith();
    relay.onMessage(request(6, "ping"));
    expect(h.upstream).toEqual([{ jsonrpc: "2.0", id: 6, result: {} }]);
    expect(h.opens).toBe(0);
  });
});

describe("CallRelay: cancellation", () => {
  it("maps an upstream notifications/cancelled to the gateway id and lets the clock run again", () => {
    const { relay, h, d } = relayWith({ capabilities: { elicitation: {} } });
    relay.onMessage(request(11, "elicitation/create", { message: "?" }));
    relay.onMessage({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 11, reason: "timed out" } });
    expect(h.sent()[1]).toEqual({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "mcpgate-s1", reason: "timed out" } });
    expect(d.counts.release).toBe(1);
    expect(h.forgotten).toEqual(["mcpgate-s1"]);
    // The client's late answer no longer reaches the upstream.
    relay.answer("mcpgate-s1", { result: { action: "accept" } });
    expect(h.upstream).toEqual([]);
  });

  it("drops a notifications/cancelled for a request it never relayed", () => {
    const { relay, h } = relayWith();
    relay.onMessage({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 99 } });
    expect(h.opens).toBe(0);
  });

  it("on finish, cancels every request still pending, then ends the stream with the answer", () => {
    const { relay, h, d } = relayWith({ capabilities: { sampling: {}, roots: {} } });
    relay.onMessage(request(1, "sampling/createMessage", {}));
    relay.onMessage(request(2, "roots/list"));
    relay.answer("mcpgate-s2", { result: { roots: [] } });
    const body = '{"jsonrpc":"2.0","id":"c","result":{}}';
    expect(relay.finish(body)).toBe(true);
    const tail = h.ops.slice(-2);
    expect(tail[0]).toEqual({
      op: "send",
      message: { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "mcpgate-s1", reason: "The tool call ended." } },
    });
    expect(tail[1]).toEqual({ op: "end", body });
    expect(d.counts.hold).toBe(2);
    expect(d.counts.release).toBe(2);
    expect(h.forgotten.sort()).toEqual(["mcpgate-s1", "mcpgate-s2"]);
  });

  it("ignores everything after finish", () => {
    const { relay, h } = relayWith({ capabilities: { sampling: {} } });
    relay.onMessage(progress("mcpgate-p7", 1));
    relay.finish("{}");
    const before = h.ops.length;
    relay.onMessage(progress("mcpgate-p7", 2));
    relay.onMessage(request(1, "sampling/createMessage", {}));
    relay.onPause();
    expect(relay.finish("{}")).toBe(true);
    expect(h.ops.length).toBe(before);
    expect(h.upstream).toEqual([]);
  });
});

describe("CallRelay: pauses and other notifications", () => {
  it("for a polling client, opens the stream and closes its connection when the upstream pauses", async () => {
    const { relay, h } = relayWith({ polling: true });
    relay.onPause();
    await expect(relay.opened).resolves.toBeInstanceOf(ReadableStream);
    expect(h.ops).toEqual([{ op: "connect" }, { op: "disconnect" }]);
  });

  it("for an older client, keeps the reply as it is when the upstream pauses", () => {
    const { relay, h } = relayWith({ polling: false });
    relay.onPause();
    expect(h.opens).toBe(0);
    expect(h.ops).toEqual([]);
  });

  it("hands notifications that are not about the call to the host", () => {
    const { relay, h } = relayWith();
    const updated = { jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: "test://x" } };
    relay.onMessage(updated);
    expect(h.other).toEqual([updated]);
    expect(h.opens).toBe(0);
  });
});
