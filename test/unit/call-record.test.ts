import { describe, expect, it } from "vitest";
import { fromCallerKey } from "../../src/policy/caller-key";
import { outcomeOfFailure, outcomeOfResult, toolCallRecord, utf8Length } from "../../src/usage/call-record";

describe("call records", () => {
  it("maps upstream failures and results to outcomes", () => {
    expect(outcomeOfFailure("timeout")).toBe("timeout");
    expect(outcomeOfFailure("breaker_open")).toBe("breaker_open");
    expect(outcomeOfFailure("cancelled")).toBe("cancelled");
    for (const kind of ["unreachable", "http_error", "bad_response", "session_lost", "blocked"] as const) expect(outcomeOfFailure(kind)).toBe("upstream_error");
    expect(outcomeOfResult({ content: [] })).toBe("ok");
    expect(outcomeOfResult({ content: [], isError: true })).toBe("tool_error");
    expect(outcomeOfResult({ content: [], isError: "yes" })).toBe("ok");
  });

  it("keeps the user of a user caller and the address only of an anonymous one", () => {
    expect(fromCallerKey("user:usr_1")).toEqual({ userId: "usr_1", ip: null });
    expect(fromCallerKey("ip:203.0.113.5")).toEqual({ userId: null, ip: "203.0.113.5" });
    expect(fromCallerKey("ip:2001:db8::1")).toEqual({ userId: null, ip: "2001:db8::1" });
  });

  it("measures request and response in UTF-8 bytes and latency from start to end", () => {
    const req = { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "a__b", arguments: { text: "héllo" } } };
    const body = '{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"€"}]}}';
    const r = toolCallRecord({ id: "prs_1", handle: "alice", slug: "p" }, "user:usr_1", req, { tool: "a__b", upstream: "a", outcome: "ok" }, body, 1000, 1042);
    expect(r).toEqual({
      presetId: "prs_1",
      preset: "alice/p",
      method: "tools/call",
      tool: "a__b",
      upstream: "a",
      outcome: "ok",
      userId: "usr_1",
      ip: null,
      latencyMs: 42,
      requestBytes: new TextEncoder().encode(JSON.stringify(req)).byteLength,
      responseBytes: new TextEncoder().encode(body).byteLength,
      arguments: { text: "héllo" },
      at: 1000,
    });
    expect(
      toolCallRecord({ id: "p", handle: "h", slug: "s" }, "ip:x", {}, { tool: "(unknown)", upstream: null, outcome: "denied" }, null, 5, 5).responseBytes,
    ).toBe(0);
  });

  it("counts UTF-8 bytes like TextEncoder, surrogate pairs and lone surrogates included", () => {
    for (const s of ["", "ascii", "héllo", "€uro", "😀 emoji", "\ud800 lone", "end \udc00", "mixed ✓ 😀 é"]) {
      expect(utf8Length(s), JSON.stringify(s)).toBe(new TextEncoder().encode(s).byteLength);
    }
  });
});
