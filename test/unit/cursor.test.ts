import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "../../src/shared/cursor";

interface Offset {
  o: number;
}
const isOffset = (v: unknown): v is Offset =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Number.isInteger((v as { o?: unknown }).o) && (v as Offset).o >= 0;

/** base64url of arbitrary text, independent of the code under test. */
const b64u = (text: string) => {
  let s = "";
  for (const b of new TextEncoder().encode(text)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

describe("encodeCursor / decodeCursor", () => {
  it("round-trips a small value", () => {
    expect(decodeCursor(encodeCursor({ o: 42 }), isOffset)).toEqual({ o: 42 });
  });

  it("round-trips non-ASCII text inside the value", () => {
    const isText = (v: unknown): v is { t: string } => typeof (v as { t?: unknown })?.t === "string";
    expect(decodeCursor(encodeCursor({ t: "grüße ✓ 日本" }), isText)).toEqual({ t: "grüße ✓ 日本" });
  });

  it("produces only base64url characters with no padding", () => {
    // Values chosen so standard base64 would contain '+', '/' and '='.
    for (const value of [{ s: ">>>???" }, { s: "~~~" }, { o: 1 }, { s: "ab" }]) {
      expect(encodeCursor(value)).toMatch(/^[A-Za-z0-9_-]+$/);
    }
  });

  it("encodes the JSON of the value, so equal values give equal cursors", () => {
    expect(encodeCursor({ o: 7 })).toBe(encodeCursor({ o: 7 }));
    expect(encodeCursor({ o: 7 })).toBe(b64u('{"o":7}'));
    expect(encodeCursor({ o: 7 })).not.toBe(encodeCursor({ o: 8 }));
  });
});

describe("decodeCursor rejects bad cursors with null", () => {
  it("rejects the empty string", () => {
    expect(decodeCursor("", isOffset)).toBeNull();
  });

  it.each(["abc+def", "abc/def", "eyJvIjo0Mn0=", "has space", "ab.cd", "ab%3D", "ø"])("rejects %j, which is not base64url", (cursor) => {
    expect(decodeCursor(cursor, isOffset)).toBeNull();
  });

  it("rejects a cursor over 512 characters even if it decodes to a valid value", () => {
    const long = encodeCursor({ o: 1, pad: "x".repeat(600) });
    expect(long.length).toBeGreaterThan(512);
    expect(decodeCursor(long, isOffset)).toBeNull();
    // The same shape under the limit is accepted, so the length is what is refused.
    expect(decodeCursor(encodeCursor({ o: 1, pad: "x".repeat(300) }), isOffset)).toEqual({ o: 1, pad: "x".repeat(300) });
  });

  it("rejects a cursor whose length is impossible for base64", () => {
    expect(decodeCursor("A", isOffset)).toBeNull();
    expect(decodeCursor(`${encodeCursor({ o: 1 })}A`, isOffset)).toBeNull();
  });

  it.each(["not-json", "{o:1}", '{"o":1', "undefined", "\u0000\u0001"])("rejects valid base64url of the non-JSON text %j", (text) => {
    const cursor = b64u(text);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, isOffset)).toBeNull();
  });

  it.each([{ o: -1 }, { o: 1.5 }, { o: "1" }, { offset: 1 }, [1], 1, "o", null, true])("rejects well-formed JSON of the wrong shape: %j", (value) => {
    expect(decodeCursor(b64u(JSON.stringify(value)), isOffset)).toBeNull();
  });

  it("rejects a tampered cursor that no longer decodes to the expected shape", () => {
    const cursor = encodeCursor({ o: 40 });
    const tampered = cursor.slice(0, 2) + (cursor[2] === "A" ? "B" : "A") + cursor.slice(3);
    expect(tampered).not.toBe(cursor);
    expect(decodeCursor(tampered, isOffset)).toBeNull();
  });

  it("passes the decoded value to the validator and returns exactly what it accepts", () => {
    const seen: unknown[] = [];
    const record = (v: unknown): v is unknown => {
      seen.push(v);
      return false;
    };
    expect(decodeCursor(encodeCursor({ o: 3, k: "x" }), record)).toBeNull();
    expect(seen).toEqual([{ o: 3, k: "x" }]);
  });

  it("never throws, whatever the input", () => {
    const inputs = ["", "A", "AA", "AAA", "AAAA", "____", "----", "_-_-", "x".repeat(512), "x".repeat(513), "eyJ", "bnVsbA", "e30", "W10"];
    for (const input of inputs) {
      expect(() => decodeCursor(input, isOffset), input).not.toThrow();
      expect(decodeCursor(input, isOffset), input).toBeNull();
    }
  });
});
