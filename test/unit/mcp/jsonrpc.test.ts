import { describe, expect, it } from "vitest";
import { isNotification, isRequest, RpcCode, readableId, rpcErrorBody, rpcResultBody, validateMessage } from "../../../src/mcp/jsonrpc";

/** The refusal reason, failing the test if the message was accepted. */
function reason(value: unknown): string {
  const result = validateMessage(value);
  if (result.ok) throw new Error(`expected ${JSON.stringify(value)} to be refused`);
  return result.reason;
}

const ID_REASON = "id must be a string (at most 256 characters) or a number";

describe("validateMessage: valid messages", () => {
  it("accepts a request and returns the same message", () => {
    const msg = { jsonrpc: "2.0", id: 1, method: "tools/list", params: { cursor: "abc" } };
    const result = validateMessage(msg);
    expect(result).toEqual({ ok: true, message: msg });
    expect(result.ok && isRequest(result.message)).toBe(true);
  });

  it("accepts a request with a string id and no params", () => {
    expect(validateMessage({ jsonrpc: "2.0", id: "req-1", method: "ping" }).ok).toBe(true);
  });

  it("accepts ids of 0, negative and fractional numbers, the empty string and exactly 256 characters", () => {
    for (const id of [0, -1, 1.5, "", "x".repeat(256)]) {
      expect(validateMessage({ jsonrpc: "2.0", id, method: "ping" }).ok, String(id)).toBe(true);
    }
  });

  it("accepts a notification, which has no id", () => {
    const msg = { jsonrpc: "2.0", method: "notifications/initialized" };
    const result = validateMessage(msg);
    expect(result.ok).toBe(true);
    expect(result.ok && isNotification(result.message)).toBe(true);
    expect(result.ok && isRequest(result.message)).toBe(false);
  });

  it("accepts empty params", () => {
    expect(validateMessage({ jsonrpc: "2.0", method: "notifications/initialized", params: {} }).ok).toBe(true);
  });

  it("accepts a result response and an error response", () => {
    expect(validateMessage({ jsonrpc: "2.0", id: 7, result: {} }).ok).toBe(true);
    expect(validateMessage({ jsonrpc: "2.0", id: "7", error: { code: -32601, message: "nope" } }).ok).toBe(true);
  });

  it("accepts a response whose result is null", () => {
    expect(validateMessage({ jsonrpc: "2.0", id: 7, result: null }).ok).toBe(true);
  });
});

describe("validateMessage: invalid messages", () => {
  it.each([
    ["an array (batch)", [{ jsonrpc: "2.0", id: 1, method: "ping" }]],
    ["an empty array", []],
    ["null", null],
    ["a string", "ping"],
    ["a number", 1],
    ["true", true],
    ["undefined", undefined],
  ])("refuses %s as not an object", (_what, value) => {
    expect(reason(value)).toBe("a JSON-RPC message must be an object");
  });

  it.each([
    ["missing", { id: 1, method: "ping" }],
    ["1.0", { jsonrpc: "1.0", id: 1, method: "ping" }],
    ["the number 2", { jsonrpc: 2, id: 1, method: "ping" }],
    ['"2.0 "', { jsonrpc: "2.0 ", id: 1, method: "ping" }],
  ])("refuses a jsonrpc member that is %s", (_what, value) => {
    expect(reason(value)).toBe('jsonrpc must be "2.0"');
  });

  it.each([
    ["an object", { a: 1 }],
    ["an array", [1]],
    ["a boolean", true],
    ["null", null],
    ["Infinity", Infinity],
    ["-Infinity", -Infinity],
    ["NaN", NaN],
    ["a string over 256 characters", "x".repeat(257)],
  ])("refuses an id that is %s", (_what, id) => {
    expect(reason({ jsonrpc: "2.0", id, method: "ping" })).toBe(ID_REASON);
    expect(reason({ jsonrpc: "2.0", id, result: {} })).toBe(ID_REASON);
  });

  it.each([
    ["empty", ""],
    ["a number", 42],
    ["null", null],
    ["over 128 characters", "m".repeat(129)],
  ])("refuses a method that is %s", (_what, method) => {
    expect(reason({ jsonrpc: "2.0", id: 1, method })).toBe("method must be a non-empty string");
  });

  it("accepts a method of exactly 128 characters", () => {
    expect(validateMessage({ jsonrpc: "2.0", id: 1, method: "m".repeat(128) }).ok).toBe(true);
  });

  it.each([
    ["an array (positional params)", [1, 2]],
    ["null", null],
    ["a string", "x"],
    ["a number", 3],
    ["a boolean", false],
  ])("refuses params that are %s", (_what, params) => {
    expect(reason({ jsonrpc: "2.0", id: 1, method: "tools/call", params })).toBe("params must be an object");
    expect(reason({ jsonrpc: "2.0", method: "notifications/x", params })).toBe("params must be an object");
  });

  it.each([
    ["no method, result or error", { jsonrpc: "2.0", id: 1 }],
    ["a result but no id", { jsonrpc: "2.0", result: {} }],
    ["an error but no id", { jsonrpc: "2.0", error: { code: 1, message: "x" } }],
    ["only the jsonrpc member", { jsonrpc: "2.0" }],
  ])("refuses a message with %s", (_what, value) => {
    expect(reason(value)).toBe("not a JSON-RPC request, notification or response");
  });
});

describe("readableId", () => {
  it("returns a string or number id", () => {
    expect(readableId({ id: "abc" })).toBe("abc");
    expect(readableId({ id: 0 })).toBe(0);
    expect(readableId({ jsonrpc: "1.0", id: 12, method: 5 })).toBe(12);
  });

  it("returns an id of exactly 256 characters", () => {
    expect(readableId({ id: "x".repeat(256) })).toBe("x".repeat(256));
  });

  it.each([
    ["a string over 256 characters", { id: "x".repeat(257) }],
    ["an object id", { id: { a: 1 } }],
    ["a null id", { id: null }],
    ["a boolean id", { id: true }],
    ["an Infinity id", { id: Infinity }],
    ["a NaN id", { id: NaN }],
    ["no id", { method: "ping" }],
    ["an array", [{ id: 1 }]],
    ["null", null],
    ["a string", "id"],
    ["a number", 5],
  ])("returns null for %s", (_what, value) => {
    expect(readableId(value)).toBeNull();
  });
});

describe("rpcErrorBody / rpcResultBody", () => {
  it("serialises an error response with code and message and no data", () => {
    const body = JSON.parse(rpcErrorBody(3, RpcCode.MethodNotFound, "Method not found"));
    expect(body).toEqual({ jsonrpc: "2.0", id: 3, error: { code: -32601, message: "Method not found" } });
    expect("data" in body.error).toBe(false);
  });

  it("includes data when given, even a falsy value", () => {
    expect(JSON.parse(rpcErrorBody("a", -32602, "bad", { field: "x" }))).toEqual({
      jsonrpc: "2.0",
      id: "a",
      error: { code: -32602, message: "bad", data: { field: "x" } },
    });
    expect(JSON.parse(rpcErrorBody("a", -32602, "bad", 0)).error.data).toBe(0);
  });

  it("keeps a null id explicitly for unreadable requests", () => {
    const body = JSON.parse(rpcErrorBody(null, RpcCode.ParseError, "Parse error"));
    expect("id" in body).toBe(true);
    expect(body.id).toBeNull();
    expect(body.error.code).toBe(-32700);
  });

  it("serialises a result response", () => {
    expect(JSON.parse(rpcResultBody(9, { tools: [] }))).toEqual({ jsonrpc: "2.0", id: 9, result: { tools: [] } });
  });

  it("uses the JSON-RPC 2.0 standard codes", () => {
    expect([RpcCode.ParseError, RpcCode.InvalidRequest, RpcCode.MethodNotFound, RpcCode.InvalidParams, RpcCode.InternalError]).toEqual([
      -32700, -32600, -32601, -32602, -32603,
    ]);
  });
});
