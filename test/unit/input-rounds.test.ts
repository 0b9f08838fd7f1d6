import { describe, expect, it } from "vitest";
import { headerParams, paramHeaderMismatch } from "../../src/mcp/modern";
import { canonicalJson, ParkedCall, reIdentified } from "../../src/tools/input-rounds";

describe("ParkedCall", () => {
  it("asks what the upstream asked, again what went unanswered, and ends with the answer under the last request's id", async () => {
    const answered: [string, unknown][] = [];
    const parked = new ParkedCall("user:u|k", "interview", { b: 1, a: 2 }, 1, () => {});
    parked.relay = { answer: (key: string, r: { result?: unknown }) => answered.push([key, r.result]) } as never;
    parked.push("g1", "elicitation/create", { message: "name?" });
    parked.push("g2", "roots/list", undefined);
    await parked.settled();
    const round = JSON.parse(parked.reply(1));
    expect(round.result).toMatchObject({ resultType: "input_required", inputRequests: { g1: { method: "elicitation/create" }, g2: { method: "roots/list" } } });
    const first = parked.state;
    parked.answer({ g1: { action: "accept" }, stray: {} });
    expect(answered).toEqual([["g1", { action: "accept" }]]);
    const again = JSON.parse(parked.reply(2));
    expect(Object.keys(again.result.inputRequests)).toEqual(["g2"]);
    expect(parked.state).not.toBe(first);
    parked.answer({ g2: { roots: [] } });
    parked.finish('{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","content":[]}}');
    await parked.settled();
    expect(JSON.parse(parked.reply(3))).toEqual({ jsonrpc: "2.0", id: 3, result: { resultType: "complete", content: [] } });
  });

  it("compares arguments however their keys are ordered, and re-addresses only a reply to the first id", () => {
    expect(canonicalJson({ b: [1, { d: 1, c: 2 }], a: "x" })).toBe(canonicalJson({ a: "x", b: [1, { c: 2, d: 1 }] }));
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: "1" }));
    expect(reIdentified('{"jsonrpc":"2.0","id":"a","result":{}}', "a", 7)).toBe('{"jsonrpc":"2.0","id":7,"result":{}}');
    expect(reIdentified('{"jsonrpc":"2.0","id":"b","result":{}}', "a", 7)).toBe('{"jsonrpc":"2.0","id":"b","result":{}}');
  });
});

describe("x-mcp-header parameters", () => {
  const schema = {
    type: "object",
    properties: {
      region: { type: "string", "x-mcp-header": "Region" },
      nested: { type: "object", properties: { tenant: { type: "integer", "x-mcp-header": "Tenant" } } },
      list: { type: "array", items: { type: "object", properties: { hidden: { type: "string", "x-mcp-header": "Hidden" } } } },
      bad: { type: "string", "x-mcp-header": "Bad Name" },
    },
  };

  it("finds parameters reachable through properties only, with header-safe names", () => {
    expect(headerParams(schema)).toEqual([
      { name: "region", path: ["region"] },
      { name: "tenant", path: ["nested", "tenant"] },
    ]);
  });

  it("wants each present value mirrored, integers compared as numbers, and no header for an absent one", () => {
    expect(paramHeaderMismatch(schema, { region: "a", nested: { tenant: 42 } }, { region: "a", tenant: "42.0" })).toBeNull();
    expect(paramHeaderMismatch(schema, { region: "a" }, { region: "a" })).toBeNull();
    expect(paramHeaderMismatch(schema, { region: "a" }, {})).toContain("required");
    expect(paramHeaderMismatch(schema, { region: "a", nested: { tenant: 42 } }, { region: "a", tenant: "" })).toContain("differs");
    expect(paramHeaderMismatch(schema, {}, { region: "a" })).toContain("is sent but");
  });
});
