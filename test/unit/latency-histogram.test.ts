import { describe, expect, it } from "vitest";
import { estimatePercentile, LATENCY_BOUNDS_MS, LATENCY_BUCKETS, latencyBucket } from "../../src/usage/latency-histogram";

/** A histogram of the given latencies. */
const histogramOf = (latencies: number[]) => {
  const counts = new Array<number>(LATENCY_BUCKETS).fill(0);
  for (const ms of latencies) counts[latencyBucket(ms)]!++;
  return counts;
};

/** The exact q quantile (nearest rank), to compare estimates with. */
const exact = (latencies: number[], q: number) => [...latencies].sort((a, b) => a - b)[Math.max(0, Math.ceil(q * latencies.length) - 1)]!;

/** The bucket bounds around a latency: an estimate may be anywhere between them. */
const boundsOf = (ms: number) => {
  const i = latencyBucket(ms);
  return [i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!, LATENCY_BOUNDS_MS[i] ?? Number.POSITIVE_INFINITY] as const;
};

describe("latency buckets", () => {
  it("puts a latency in the first bucket whose upper bound it does not exceed, and anything over 60 s in the open bucket", () => {
    expect(latencyBucket(0)).toBe(0);
    expect(latencyBucket(1)).toBe(0);
    expect(latencyBucket(1.5)).toBe(1);
    expect(latencyBucket(2)).toBe(1);
    expect(latencyBucket(100)).toBe(LATENCY_BOUNDS_MS.indexOf(100));
    expect(latencyBucket(101)).toBe(LATENCY_BOUNDS_MS.indexOf(200));
    expect(latencyBucket(60_000)).toBe(LATENCY_BOUNDS_MS.length - 1);
    expect(latencyBucket(60_001)).toBe(LATENCY_BOUNDS_MS.length);
    expect(latencyBucket(-5)).toBe(0);
    expect(latencyBucket(Number.NaN)).toBe(0);
  });

  it("has log-spaced, increasing bounds from 1 ms to 60 s", () => {
    expect(LATENCY_BOUNDS_MS[0]).toBe(1);
    expect(LATENCY_BOUNDS_MS.at(-1)).toBe(60_000);
    for (let i = 1; i < LATENCY_BOUNDS_MS.length; i++) expect(LATENCY_BOUNDS_MS[i]!).toBeGreaterThan(LATENCY_BOUNDS_MS[i - 1]!);
  });
});

describe("percentile estimates", () => {
  it("is null for an empty histogram", () => {
    expect(estimatePercentile(new Array(LATENCY_BUCKETS).fill(0), 0.5, 0)).toBeNull();
  });

  it("interpolates linearly within the bucket that holds the percentile", () => {
    // 10 calls, all in (50, 100]: p50 sits halfway through that bucket, p100 at its top.
    const counts = histogramOf(new Array(10).fill(80));
    expect(estimatePercentile(counts, 0.5, 80)).toBe(75);
    expect(estimatePercentile(counts, 0.1, 80)).toBe(55);
    // Capped by the slowest call seen: nothing took longer than 80 ms.
    expect(estimatePercentile(counts, 1, 80)).toBe(80);
  });

  it("closes the open bucket with the slowest call", () => {
    const counts = histogramOf([70_000, 90_000]);
    expect(estimatePercentile(counts, 0.5, 90_000)).toBe(75_000);
    expect(estimatePercentile(counts, 0.99, 90_000)).toBeCloseTo(89_700, 0);
  });

  it("lands in the same bucket as the exact percentile for many distributions (seeded)", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let trial = 0; trial < 50; trial++) {
      const scale = 1 + random() * 2000;
      const latencies = Array.from({ length: 1 + Math.floor(random() * 500) }, () => Math.round(-Math.log(1 - random()) * scale));
      const counts = histogramOf(latencies);
      const max = Math.max(...latencies);
      for (const q of [0.5, 0.95, 0.99]) {
        const estimate = estimatePercentile(counts, q, max)!;
        const [low, high] = boundsOf(exact(latencies, q));
        expect(estimate, `trial ${trial} q ${q}`).toBeGreaterThanOrEqual(low);
        expect(estimate, `trial ${trial} q ${q}`).toBeLessThanOrEqual(Math.min(high, max));
      }
    }
  });

  it("never decreases as q grows", () => {
    const counts = histogramOf([1, 3, 3, 8, 40, 40, 41, 300, 2500, 2600, 31_000]);
    const qs = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1];
    const estimates = qs.map((q) => estimatePercentile(counts, q, 31_000)!);
    expect([...estimates].sort((a, b) => a - b)).toEqual(estimates);
  });
});
