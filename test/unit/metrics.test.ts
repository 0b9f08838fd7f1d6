import { describe, expect, it, vi } from "vitest";
import type { CallRecord } from "../../src/usage/call-record";
import { AE_LIMITS, callDataPoint, checkDataPoint, MetricsWriter } from "../../src/usage/metrics";

const call = (over: Partial<CallRecord> = {}): CallRecord => ({
  presetId: "prs_0abc",
  preset: "alice/research",
  method: "tools/call",
  tool: "search__web",
  upstream: "search",
  userId: "usr_1",
  ip: null,
  outcome: "ok",
  latencyMs: 42,
  requestBytes: 120,
  responseBytes: 2048,
  arguments: { q: "x" },
  at: 1_700_000_000_000,
  ...over,
});

const recorder = () => {
  const points: AnalyticsEngineDataPoint[] = [];
  return { points, binding: { writeDataPoint: (p?: AnalyticsEngineDataPoint) => void points.push(p ?? {}) } };
};

describe("Analytics Engine limits", () => {
  it("accepts a point within every limit, at the limits", () => {
    expect(checkDataPoint({})).toBeNull();
    expect(checkDataPoint({ indexes: ["x".repeat(96)], blobs: new Array(20).fill("b".repeat(800)), doubles: new Array(20).fill(1) })).toBeNull();
  });

  const over: [string, AnalyticsEngineDataPoint, RegExp][] = [
    ["21 blobs", { blobs: new Array(21).fill("b") }, /21 blobs/],
    ["21 doubles", { doubles: new Array(21).fill(1) }, /21 doubles/],
    ["a double that is not finite", { doubles: [Number.NaN] }, /not a finite number/],
    ["two indexes", { indexes: ["a", "b"] }, /2 indexes/],
    ["an index over 96 bytes", { indexes: ["x".repeat(97)] }, /index of 97 bytes/],
    ["an index of 33 three-byte characters (99 bytes)", { indexes: ["€".repeat(33)] }, /index of 99 bytes/],
    ["blobs over 16 KiB in total", { blobs: ["a".repeat(10_000), "b".repeat(6_385)] }, /16385 bytes of blobs/],
    ["an ArrayBuffer blob that tips the total over", { blobs: ["a".repeat(16_000), new ArrayBuffer(385)] }, /16385 bytes/],
  ];
  for (const [what, point, reason] of over) {
    it(`refuses ${what}`, () => expect(checkDataPoint(point)).toMatch(reason));
  }

  it("lays a call out as 1 index, 6 blobs and 3 doubles, cutting overlong names so it always fits", () => {
    const point = callDataPoint(call());
    expect(point).toEqual({
      indexes: ["prs_0abc"],
      blobs: ["alice/research", "tools/call", "search__web", "search", "usr_1", "ok"],
      doubles: [42, 120, 2048],
    });
    const huge = callDataPoint(call({ tool: "t".repeat(100_000), upstream: null, userId: null }));
    expect(huge.blobs![2]).toHaveLength(256);
    expect(huge.blobs![3]).toBe("");
    expect(huge.blobs![4]).toBe("anonymous");
    expect(checkDataPoint(huge)).toBeNull();
  });
});

describe("MetricsWriter", () => {
  it(`writes at most ${AE_LIMITS.writesPerInvocation} points per invocation and drops the rest`, () => {
    const { points, binding } = recorder();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const writer = new MetricsWriter(() => binding);
    const results = Array.from({ length: 30 }, () => writer.write(callDataPoint(call())));
    expect(results.filter((r) => r === "written")).toHaveLength(25);
    expect(results.slice(25)).toEqual(new Array(5).fill("over_budget"));
    expect(points).toHaveLength(25);
    expect(warn).toHaveBeenCalledTimes(1);
    // A new invocation has a new budget.
    expect(new MetricsWriter(() => binding).write(callDataPoint(call()))).toBe("written");
    warn.mockRestore();
  });

  it("never throws: a throwing binding, a rejecting binding, a missing binding and an invalid point are all dropped", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const throwing = new MetricsWriter(() => ({
      writeDataPoint() {
        throw new Error("boom");
      },
    }));
    expect(throwing.write(callDataPoint(call()))).toBe("failed");
    const rejecting = new MetricsWriter(() => ({ writeDataPoint: () => Promise.reject(new Error("later")) as unknown as undefined }));
    expect(rejecting.write(callDataPoint(call()))).toBe("written");
    await new Promise((r) => setTimeout(r, 0));
    expect(error).toHaveBeenCalledWith("metrics data point not written", expect.any(Error));
    const lookupFails = new MetricsWriter(() => {
      throw new Error("no env");
    });
    expect(lookupFails.write({})).toBe("failed");
    expect(new MetricsWriter(() => undefined).write({})).toBe("no_binding");
    const { points, binding } = recorder();
    expect(new MetricsWriter(() => binding).write({ blobs: new Array(21).fill("x") })).toBe("invalid");
    expect(points).toHaveLength(0);
    error.mockRestore();
    warn.mockRestore();
  });
});
