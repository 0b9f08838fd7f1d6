import { describe, expect, it } from "vitest";
import { CLIENT_NAME_MAX, keptCapabilities, keptClientName } from "../../../src/mcp/client-capabilities";

describe("keptCapabilities", () => {
  it("keeps the flags the gateway reads and drops everything else, however large", () => {
    const declared = {
      experimental: { x: "x".repeat(100_000) },
      sampling: { context: {}, tools: {} },
      elicitation: { form: {}, url: { anything: [1, 2, 3] }, extra: {} },
      roots: { listChanged: true, more: "y" },
      tasks: { list: {} },
    };
    expect(keptCapabilities(declared)).toEqual({ sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } });
  });

  it("treats an empty elicitation object as declared (form mode) and a non-object flag as absent", () => {
    expect(keptCapabilities({ elicitation: {}, sampling: true, roots: [] })).toEqual({ elicitation: {} });
    expect(keptCapabilities({ roots: { listChanged: "yes" } })).toEqual({ roots: {} });
  });

  it("returns no flags for something that is not an object", () => {
    for (const v of [null, undefined, "x", 3, [{ sampling: {} }]]) expect(keptCapabilities(v)).toEqual({});
  });
});

describe("keptClientName", () => {
  it(`cuts the name to ${CLIENT_NAME_MAX} characters and ignores what is not a string`, () => {
    expect(keptClientName({ name: "n".repeat(10_000), version: "v".repeat(10_000) })).toHaveLength(CLIENT_NAME_MAX);
    expect(keptClientName({ name: 3 })).toBeNull();
    expect(keptClientName("x")).toBeNull();
  });
});
