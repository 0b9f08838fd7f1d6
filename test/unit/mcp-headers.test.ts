import { describe, expect, it } from "vitest";
import { encodeHeaderValue } from "../../src/mcp/modern";
import { modernHeaders, paramHeaders } from "../../src/upstream/mcp-headers";

const b64 = (s: string) => `=?base64?${btoa(String.fromCharCode(...new TextEncoder().encode(s)))}?=`;

describe("header value encoding (2026-07-28 Value Encoding)", () => {
  it("keeps plain visible ASCII as it is, inner spaces included", () => {
    expect(encodeHeaderValue("us-west1")).toBe("us-west1");
    expect(encodeHeaderValue("a b")).toBe("a b");
  });

  it("base64-encodes non-ASCII, control characters, edge whitespace and the sentinel itself", () => {
    expect(encodeHeaderValue("Hello, 世界")).toBe("=?base64?SGVsbG8sIOS4lueVjA==?=");
    expect(encodeHeaderValue(" padded ")).toBe("=?base64?IHBhZGRlZCA=?=");
    expect(encodeHeaderValue("line1\nline2")).toBe("=?base64?bGluZTEKbGluZTI=?=");
    expect(encodeHeaderValue("=?base64?literal?=")).toBe("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=");
    expect(encodeHeaderValue("x\r\nInjected: yes")).toBe(b64("x\r\nInjected: yes"));
  });
});

describe("x-mcp-header declarations", () => {
  it("finds declarations reachable through properties chains, nested ones included", () => {
    const schema = {
      type: "object",
      properties: {
        region: { type: "string", "x-mcp-header": "Region" },
        opts: { type: "object", properties: { dry: { type: "boolean", "x-mcp-header": "Dry-Run" } } },
      },
    };
    expect(paramHeaders(schema)).toEqual([
      { name: "Region", path: ["region"] },
      { name: "Dry-Run", path: ["opts", "dry"] },
    ]);
  });

  it("calls a tool invalid for a declaration under items, anyOf or $defs, a number type, a bad or duplicate name", () => {
    const bad = [
      { properties: { list: { type: "array", items: { type: "string", "x-mcp-header": "A" } } } },
      { anyOf: [{ properties: { a: { type: "string", "x-mcp-header": "A" } } }] },
      { $defs: { a: { type: "string", "x-mcp-header": "A" } } },
      { properties: { n: { type: "number", "x-mcp-header": "N" } } },
      { properties: { a: { type: "string", "x-mcp-header": "Bad Name" } } },
      { properties: { a: { type: "string", "x-mcp-header": "" } } },
      { properties: { a: { type: "string", "x-mcp-header": "X" }, b: { type: "string", "x-mcp-header": "x" } } },
      { type: "string", "x-mcp-header": "Root" },
    ];
    for (const schema of bad) expect(paramHeaders(schema), JSON.stringify(schema)).toBeNull();
  });

  it("has none for a schema without declarations, and survives a very deep one", () => {
    expect(paramHeaders({ type: "object", properties: { q: { type: "string" } } })).toEqual([]);
    expect(paramHeaders(undefined)).toEqual([]);
    let deep: Record<string, unknown> = { type: "string" };
    for (let i = 0; i < 10_000; i++) deep = { type: "object", properties: { x: deep } };
    expect(paramHeaders(deep)).toEqual([]);
  });
});

describe("the headers of a modern request", () => {
  it("mirrors the method and name, and declared arguments (strings, integers, booleans) but not absent or null ones", () => {
    const params = { name: "run", arguments: { region: "eu", n: 42, dry: false, gone: null } };
    const declared = [
      { name: "Region", path: ["region"] },
      { name: "N", path: ["n"] },
      { name: "Dry", path: ["dry"] },
      { name: "Gone", path: ["gone"] },
      { name: "Missing", path: ["missing", "deeper"] },
    ];
    expect(modernHeaders("tools/call", params, declared)).toEqual({
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": "run",
      "mcp-param-region": "eu",
      "mcp-param-n": "42",
      "mcp-param-dry": "false",
    });
  });

  it("names the URI of resources/read (encoded when needed) and nothing for lists", () => {
    expect(modernHeaders("resources/read", { uri: "file:///ä.md" })["mcp-name"]).toBe(b64("file:///ä.md"));
    expect(modernHeaders("tools/list", {})).toEqual({ "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" });
  });
});
