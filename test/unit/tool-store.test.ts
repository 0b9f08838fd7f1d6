import { describe, expect, it } from "vitest";
import { CHUNK_CHARS, chunkText } from "../../src/upstream/tool-store";

describe("chunkText", () => {
  it("cuts text into pieces that join back to it", () => {
    const text = "abcdefghij".repeat(1_000);
    const chunks = chunkText(text, 3_000);
    expect(chunks.map((c) => c.length)).toEqual([3_000, 3_000, 3_000, 1_000]);
    expect(chunks.join("")).toBe(text);
    expect(chunkText("")).toEqual([]);
    expect(chunkText("short")).toEqual(["short"]);
  });

  it("never splits a surrogate pair, so every piece is valid UTF-16 for SQLite", () => {
    const text = `ab${"😀".repeat(10)}`;
    const chunks = chunkText(text, 3);
    expect(chunks.join("")).toBe(text);
    for (const c of chunks) expect(c).not.toMatch(/[\uD800-\uDBFF]$|^[\uDC00-\uDFFF]/);
  });

  it("keeps a 3.2 MB list in pieces small enough for a 2 MB SQLite value", () => {
    const chunks = chunkText("x".repeat(3_200_000));
    expect(chunks).toHaveLength(Math.ceil(3_200_000 / CHUNK_CHARS));
    for (const c of chunks) expect(new TextEncoder().encode(c).length).toBeLessThan(2_000_000);
  });
});
