import { describe, expect, it } from "vitest";
import type { RpcMessage } from "../../../src/mcp/jsonrpc";
import { decodeHeaderValue, eraOf } from "../../../src/mcp/modern";
import { isErrorReply, modernReply } from "../../../src/mcp/modern-results";

const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} };
const headers =
  (h: Record<string, string>) =>
  (name: string): string | undefined =>
    h[name];
const req = (method: string, params: Record<string, unknown> = {}): RpcMessage => ({ jsonrpc: "2.0", id: 1, method, params: { ...params, _meta: meta } });

describe("eraOf", () => {
  it("takes a request without modern _meta or header for the legacy era, and a modern header or _meta for the modern one", () => {
    expect(eraOf(headers({}), [{ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }], false)).toEqual({ era: "legacy" });
    expect(eraOf(headers({ "mcp-protocol-version": "2025-06-18" }), [{ jsonrpc: "2.0", id: 1, method: "tools/list" }], false)).toEqual({ era: "legacy" });
    const verdict = eraOf(headers({ "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" }), [req("tools/list")], false);
    expect(verdict).toMatchObject({ era: "modern", request: { version: "2026-07-28", logLevel: null } });
  });

  it("refuses a modern request whose _meta version is missing, unknown, or differs from the header", () => {
    const bare: RpcMessage = { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} };
    expect(eraOf(headers({ "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" }), [bare], false)).toMatchObject({
      refusal: { status: 400, code: -32602 },
    });
    const future: RpcMessage = {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/list",
      params: { _meta: { ...meta, "io.modelcontextprotocol/protocolVersion": "2030-01-01" } },
    };
    expect(eraOf(headers({ "mcp-protocol-version": "2030-01-01", "mcp-method": "tools/list" }), [future], false)).toMatchObject({
      refusal: { code: -32022, data: { requested: "2030-01-01" } },
    });
    // A header naming 2026-07-28 over a body naming another version is a mismatch first.
    expect(eraOf(headers({ "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" }), [future], false)).toMatchObject({ refusal: { code: -32020 } });
    expect(eraOf(headers({ "mcp-method": "tools/list" }), [req("tools/list")], false)).toMatchObject({ refusal: { code: -32020 } });
  });

  it("checks Mcp-Method always and Mcp-Name for calls, gets and reads, decoding the Base64 sentinel", () => {
    const h = { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call" };
    const call = req("tools/call", { name: "héllo" });
    expect(eraOf(headers(h), [call], false)).toMatchObject({ refusal: { code: -32020 } });
    expect(eraOf(headers({ ...h, "mcp-name": "hello" }), [call], false)).toMatchObject({ refusal: { code: -32020 } });
    const encoded = `=?base64?${btoa(String.fromCharCode(...new TextEncoder().encode("héllo")))}?=`;
    expect(eraOf(headers({ ...h, "mcp-name": encoded }), [call], false)).toMatchObject({ era: "modern" });
    expect(eraOf(headers({ ...h, "mcp-method": "tools/list", "mcp-name": encoded }), [call], false)).toMatchObject({ refusal: { code: -32020 } });
  });

  it("refuses batches and responses in the modern era, and a log level that is not one", () => {
    const h = headers({ "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" });
    expect(eraOf(h, [req("tools/list"), req("tools/list")], true)).toMatchObject({ refusal: { code: -32600 } });
    expect(eraOf(h, [{ jsonrpc: "2.0", id: 1, result: {} }], false)).toMatchObject({ refusal: { code: -32600 } });
    const loud: RpcMessage = { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: { ...meta, "io.modelcontextprotocol/logLevel": "loud" } } };
    expect(eraOf(h, [loud], false)).toMatchObject({ refusal: { code: -32602 } });
  });
});

describe("decodeHeaderValue", () => {
  it("passes plain ASCII, decodes the sentinel, and refuses control characters and invalid UTF-8", () => {
    expect(decodeHeaderValue("us-west1")).toBe("us-west1");
    expect(decodeHeaderValue("=?base64?SGVsbG8sIOS4lueVjA==?=")).toBe("Hello, 世界");
    expect(decodeHeaderValue("a\u0001b")).toBeNull();
    expect(decodeHeaderValue("=?base64?/w==?=")).toBeNull();
  });
});

describe("modernReply", () => {
  it("adds resultType (and caching hints when given) to a result, also an empty one, and leaves errors alone except -32002", () => {
    expect(JSON.parse(modernReply('{"jsonrpc":"2.0","id":7,"result":{"tools":[]}}', 7, { ttlMs: 5, cacheScope: "public" }))).toEqual({
      jsonrpc: "2.0",
      id: 7,
      result: { resultType: "complete", ttlMs: 5, cacheScope: "public", tools: [] },
    });
    expect(JSON.parse(modernReply('{"jsonrpc":"2.0","id":"x","result":{}}', "x"))).toEqual({ jsonrpc: "2.0", id: "x", result: { resultType: "complete" } });
    const missing = '{"jsonrpc":"2.0","id":1,"error":{"code":-32002,"message":"Resource not found"}}';
    expect(JSON.parse(modernReply(missing, 1)).error.code).toBe(-32602);
    const other = '{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"nope"}}';
    expect(modernReply(other, 1)).toBe(other);
    expect(isErrorReply(other, 1, -32601)).toBe(true);
    // Another request's reply is not touched.
    expect(modernReply('{"jsonrpc":"2.0","id":2,"result":{}}', 1)).toBe('{"jsonrpc":"2.0","id":2,"result":{}}');
  });
});
