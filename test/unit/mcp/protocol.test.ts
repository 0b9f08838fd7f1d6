import { describe, expect, it } from "vitest";
import {
  allowsBatches,
  DEFAULT_NEGOTIATED_VERSION,
  isSupportedVersion,
  LATEST_PROTOCOL_VERSION,
  negotiateVersion,
  SUPPORTED_PROTOCOL_VERSIONS,
} from "../../../src/mcp/protocol";

describe("negotiateVersion", () => {
  it.each(["2025-11-25", "2025-06-18", "2025-03-26"])("echoes the supported version %s back", (v) => {
    expect(negotiateVersion(v)).toBe(v);
  });

  it.each([
    ["an older revision", "2024-11-05"],
    ["a future revision", "2026-01-01"],
    ["a near-miss string", "2025-06-18 "],
    ["the empty string", ""],
    ["garbage", "latest"],
    ["a number", 20250618],
    ["null", null],
    ["undefined", undefined],
    ["an object", { version: "2025-06-18" }],
    ["an array", ["2025-06-18"]],
  ])("answers %s with the latest version", (_what, requested) => {
    expect(negotiateVersion(requested)).toBe("2025-11-25");
  });

  it("names 2025-11-25 as the latest and lists versions newest first", () => {
    expect(LATEST_PROTOCOL_VERSION).toBe("2025-11-25");
    expect(SUPPORTED_PROTOCOL_VERSIONS[0]).toBe(LATEST_PROTOCOL_VERSION);
    expect([...SUPPORTED_PROTOCOL_VERSIONS].sort().reverse()).toEqual([...SUPPORTED_PROTOCOL_VERSIONS]);
  });

  it("assumes 2025-03-26 for requests without a version header", () => {
    expect(DEFAULT_NEGOTIATED_VERSION).toBe("2025-03-26");
    expect(isSupportedVersion(DEFAULT_NEGOTIATED_VERSION)).toBe(true);
  });
});

describe("isSupportedVersion", () => {
  it("accepts only the listed versions", () => {
    for (const v of SUPPORTED_PROTOCOL_VERSIONS) expect(isSupportedVersion(v)).toBe(true);
    expect(isSupportedVersion("2024-11-05")).toBe(false);
    expect(isSupportedVersion(undefined)).toBe(false);
  });
});

describe("allowsBatches", () => {
  it("allows JSON-RPC batches only in 2025-03-26", () => {
    expect(allowsBatches("2025-03-26")).toBe(true);
    expect(allowsBatches("2025-06-18")).toBe(false);
    expect(allowsBatches("2025-11-25")).toBe(false);
  });
});
