import { env } from "cloudflare:test";
import { checkDataPoint } from "../src/usage/metrics";

/**
 * Miniflare's Analytics Engine binding is a no-op that keeps nothing, so tests swap `METRICS` for
 * a recording binding (the worker and its Durable Objects read the same env in the test pool).
 * Like production, the recorder refuses a data point over Analytics Engine's limits by throwing.
 */
export interface MetricsRecorder {
  /** Data points written since recording began, in order. */
  points: AnalyticsEngineDataPoint[];
  /** The data points of one preset (index = preset id). */
  of(presetId: string): AnalyticsEngineDataPoint[];
  restore(): void;
}

export function recordMetrics(opts: { fail?: "throw" | "reject" } = {}): MetricsRecorder {
  const original = env.METRICS;
  const points: AnalyticsEngineDataPoint[] = [];
  const binding = {
    writeDataPoint(point?: AnalyticsEngineDataPoint): void {
      if (opts.fail === "throw") throw new Error("Analytics Engine is unavailable");
      // biome-ignore lint/correctness/noVoidTypeReturn: a binding that answers with a rejected promise is what this fake plays
      if (opts.fail === "reject") return Promise.reject(new Error("Analytics Engine is unavailable")) as unknown as undefined;
      const problem = checkDataPoint(point ?? {});
      if (problem) throw new Error(`data point refused: ${problem}`);
      points.push(structuredClone(point ?? {}));
    },
  };
  env.METRICS = binding;
  return {
    points,
    of: (presetId) => points.filter((p) => p.indexes?.[0] === presetId),
    restore: () => {
      env.METRICS = original;
    },
  };
}
