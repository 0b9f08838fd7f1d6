/**
 * @module Server-rendered SVG charts of a time series for the console's Watch dashboard: bars
 * (calls with their errors) or lines (latency percentiles), with axis labels and a text
 * alternative. No chart library and no script: the SVG is plain markup styled by classes in the
 * console stylesheet (CSP allows no inline style).
 */

/** One drawn series: its values per bucket (null: nothing measured) and its CSS class. */
export interface ChartSeries {
  label: string;
  cls: string;
  values: readonly (number | null)[];
}

export interface ChartProps {
  /** Unique on the page: the ids of the title and description derive from it. */
  id: string;
  title: string;
  /** The text alternative: what a sighted reader takes from the chart. */
  desc: string;
  kind: "bars" | "lines";
  series: readonly ChartSeries[];
  /** Labels of the first, middle and last bucket (the x axis). */
  xLabels: readonly [string, string, string];
  /** The y axis unit, e.g. "calls" or "ms". */
  unit: string;
}

const W = 480;
const H = 200;
const LEFT = 44;
const RIGHT = 6;
const TOP = 20;
const BOTTOM = 24;
const PLOT_W = W - LEFT - RIGHT;
const PLOT_H = H - TOP - BOTTOM;

/** The smallest 1, 2 or 5 × 10ⁿ at or above `max`, so the y axis reads in round numbers. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

const r1 = (n: number) => Math.round(n * 10) / 10;

/** Runs of consecutive non-null values as polyline point lists (a gap breaks the line). */
export function lineSegments(values: readonly (number | null)[], x: (i: number) => number, y: (v: number) => number): string[] {
  const out: string[] = [];
  let run: string[] = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (run.length) out.push(run.join(" "));
      run = [];
    } else run.push(`${r1(x(i))},${r1(y(v))}`);
  });
  if (run.length) out.push(run.join(" "));
  return out;
}

export function TimeChart(props: ChartProps) {
  const n = Math.max(1, ...props.series.map((s) => s.values.length));
  const max = niceMax(Math.max(0, ...props.series.flatMap((s) => s.values.filter((v): v is number => v !== null))));
  const slot = PLOT_W / n;
  const y = (v: number) => TOP + PLOT_H - (v / max) * PLOT_H;
  const xMid = (i: number) => LEFT + (i + 0.5) * slot;
  const barW = Math.max(1, slot * 0.8);
  const ticks = [0, max / 2, max];
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${props.id}-title ${props.id}-desc`} id={props.id}>
      <title id={`${props.id}-title`}>{props.title}</title>
      <desc id={`${props.id}-desc`}>{props.desc}</desc>
      <g class="axis">
        {ticks.map((t) => (
          <>
            <line class="grid" x1={LEFT} x2={W - RIGHT} y1={r1(y(t))} y2={r1(y(t))} />
            <text x={LEFT - 4} y={r1(y(t)) + 4} text-anchor="end">
              {Number.isInteger(t) ? String(t) : t.toFixed(1)}
            </text>
          </>
        ))}
        <text x={LEFT} y={H - 6} text-anchor="start">
          {props.xLabels[0]}
        </text>
        <text x={LEFT + PLOT_W / 2} y={H - 6} text-anchor="middle">
          {props.xLabels[1]}
        </text>
        <text x={W - RIGHT} y={H - 6} text-anchor="end">
          {props.xLabels[2]}
        </text>
        <text x={LEFT} y={12} text-anchor="start">
          {props.unit}
        </text>
      </g>
      {props.series.map((s) =>
        props.kind === "bars" ? (
          <g class={s.cls}>
            {s.values.map((v, i) => (v ? <rect x={r1(xMid(i) - barW / 2)} y={r1(y(v))} width={r1(barW)} height={r1(TOP + PLOT_H - y(v))} /> : null))}
          </g>
        ) : (
          <g class={s.cls}>
            {lineSegments(s.values, xMid, y).map((points) =>
              points.includes(" ") ? <polyline points={points} /> : <circle cx={points.split(",")[0]} cy={points.split(",")[1]} r="2.5" />,
            )}
          </g>
        ),
      )}
    </svg>
  );
}

/** The chart's key, in HTML so it reflows and reads as text. */
export function Legend(props: { series: readonly Pick<ChartSeries, "label" | "cls">[] }) {
  return (
    <ul class="legend" aria-label="Key">
      {props.series.map((s) => (
        <li>
          <span class={`swatch ${s.cls}`}></span>
          {s.label}
        </li>
      ))}
    </ul>
  );
}
