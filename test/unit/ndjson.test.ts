import { describe, expect, it } from "vitest";
import { parseNdjson, toNdjson } from "../../src/shared/ndjson";

describe("NDJSON", () => {
  it("writes one JSON text per line, each ending in a newline", () => {
    const text = toNdjson([{ a: 1 }, { b: "two" }, [3], "four", null]);
    expect(text).toBe('{"a":1}\n{"b":"two"}\n[3]\n"four"\nnull\n');
    expect(parseNdjson(text)).toEqual([{ a: 1 }, { b: "two" }, [3], "four", null]);
  });

  it("is empty for no items", () => {
    expect(toNdjson([])).toBe("");
    expect(parseNdjson("")).toEqual([]);
  });

  it("keeps values with newlines, line and paragraph separators on one line", () => {
    const tricky = { text: "line one\nline two\r\n", ls: "a\u2028b\u2029c", nested: { deep: ["\n"] } };
    const text = toNdjson([tricky, { after: true }]);
    expect(text.split("\n")).toHaveLength(3); // two lines and the empty rest after the last newline
    expect(text).not.toMatch(/[\u2028\u2029]/);
    expect(parseNdjson(text)).toEqual([tricky, { after: true }]);
  });
});
