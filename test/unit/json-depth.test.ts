import { describe, expect, it } from "vitest";
import { jsonNestsDeeper, MAX_JSON_DEPTH } from "../../src/shared/json-depth";

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

describe("jsonNestsDeeper", () => {
  it("accepts nesting up to the limit and refuses one level more", () => {
    expect(MAX_JSON_DEPTH).toBe(128);
    expect(jsonNestsDeeper(nested(128))).toBe(false);
    expect(jsonNestsDeeper(nested(129))).toBe(true);
    expect(jsonNestsDeeper(`{"a":${nested(127)}}`)).toBe(false);
    expect(jsonNestsDeeper(`{"a":${nested(128)}}`)).toBe(true);
  });

  it("counts objects and arrays alike, and siblings do not add up", () => {
    expect(jsonNestsDeeper('{"a":{"b":[{"c":[]}]}}', 5)).toBe(false);
    expect(jsonNestsDeeper('{"a":{"b":[{"c":[]}]}}', 4)).toBe(true);
    expect(jsonNestsDeeper(`[${Array(10_000).fill("[[]]").join(",")}]`, 3)).toBe(false);
  });

  it("ignores brackets inside strings, escaped quotes included", () => {
    expect(jsonNestsDeeper(JSON.stringify({ text: "[[[[{{{{".repeat(1000) }), 2)).toBe(false);
    expect(jsonNestsDeeper(JSON.stringify({ text: `\\"${"[".repeat(500)}\\\\` }), 2)).toBe(false);
    expect(jsonNestsDeeper(`["\\"", ${nested(3)}]`, 3)).toBe(true);
  });

  it("finds a 200,000-deep body without recursing", () => {
    expect(jsonNestsDeeper(nested(200_000))).toBe(true);
  });
});
