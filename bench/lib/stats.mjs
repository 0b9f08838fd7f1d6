/**
 * Summaries of latency samples. Pure functions, no I/O.
 */

/**
 * The q-quantile (0..1) of ascending `sorted`, by linear interpolation between closest ranks.
 * @param {ArrayLike<number>} sorted @param {number} q
 */
export function quantile(sorted, q) {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** @param {ArrayLike<number>} values */
export function mean(values) {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return values.length ? sum / values.length : NaN;
}

/** @param {number[]} values */
export function median(values) {
  return quantile(Float64Array.from(values).sort(), 0.5);
}

/**
 * One cell's numbers: latency percentiles of its samples, and throughput over its wall time.
 * @param {ArrayLike<number>} latenciesMs @param {number} wallMs
 */
export function summarize(latenciesMs, wallMs) {
  const sorted = Float64Array.from(latenciesMs).sort();
  return {
    n: sorted.length,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    meanMs: mean(sorted),
    maxMs: sorted.length ? sorted[sorted.length - 1] : NaN,
    rps: wallMs > 0 ? (sorted.length * 1000) / wallMs : NaN,
  };
}

/**
 * Combines a target's repetitions of one workload: percentiles over all samples pooled (more
 * samples for p99), throughput as the median of the repetitions, and the min-max spread of the
 * per-repetition p50 and rps so run-to-run noise is visible.
 * @param {{ latencies: ArrayLike<number>, wallMs: number, errors: number }[]} reps
 */
export function combineReps(reps) {
  const perRep = reps.map((r) => summarize(r.latencies, r.wallMs));
  const pooled = new Float64Array(reps.reduce((n, r) => n + r.latencies.length, 0));
  let at = 0;
  for (const r of reps) {
    pooled.set(r.latencies, at);
    at += r.latencies.length;
  }
  const all = summarize(pooled, 1);
  const rpsList = perRep.map((s) => s.rps);
  const p50List = perRep.map((s) => s.p50Ms);
  return {
    n: all.n,
    errors: reps.reduce((n, r) => n + r.errors, 0),
    p50Ms: all.p50Ms,
    p99Ms: all.p99Ms,
    meanMs: all.meanMs,
    rps: median(rpsList),
    p50Range: [Math.min(...p50List), Math.max(...p50List)],
    rpsRange: [Math.min(...rpsList), Math.max(...rpsList)],
    perRep: perRep.map((s) => ({ n: s.n, p50Ms: s.p50Ms, p99Ms: s.p99Ms, rps: s.rps })),
  };
}
