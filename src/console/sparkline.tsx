/** @module A small server-rendered SVG chart of a preset's calls and errors over a stats window. */

export interface SparkPoint {
  calls: number;
  errors: number;
}

const W = 240;
const H = 40;

/** SVG polyline points for `values`, scaled to the chart box with `max` at the top. */
export function sparkPath(values: readonly number[], max: number): string {
  if (values.length === 0) return "";
  const step = values.length > 1 ? W / (values.length - 1) : 0;
  return values.map((v, i) => `${Math.round(i * step * 10) / 10},${Math.round((H - 2 - (max > 0 ? (v / max) * (H - 4) : 0)) * 10) / 10}`).join(" ");
}

/** Calls (blue) and errors (red) per bucket; the text alternative gives the totals. */
export function Sparkline(props: { series: readonly SparkPoint[]; label: string }) {
  const calls = props.series.map((p) => p.calls);
  const errors = props.series.map((p) => p.errors);
  const max = Math.max(1, ...calls);
  return (
    <svg class="spark" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={props.label}>
      <title>{props.label}</title>
      <line x1="0" y1={H - 2} x2={W} y2={H - 2} stroke="#d4d7dd" stroke-width="1" />
      <polyline points={sparkPath(calls, max)} fill="none" stroke="#0b57d0" stroke-width="1.5" vector-effect="non-scaling-stroke" />
      <polyline points={sparkPath(errors, max)} fill="none" stroke="#b3261e" stroke-width="1.5" vector-effect="non-scaling-stroke" />
    </svg>
  );
}
