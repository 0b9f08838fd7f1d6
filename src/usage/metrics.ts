/** @module Workers Analytics Engine data points of tool calls, within the binding's limits. */
import { type CallRecord, callerOf, utf8Length } from "./call-record";

/**
 * Workers Analytics Engine's limits. Miniflare's local `writeDataPoint` accepts anything, so the
 * writer checks them itself rather than finding out in production.
 */
export const AE_LIMITS = {
  blobs: 20,
  doubles: 20,
  indexes: 1,
  indexBytes: 96,
  blobBytes: 16 * 1024,
  writesPerInvocation: 25,
} as const;

/** Longest string put in one blob; names longer than this are cut. */
const BLOB_MAX_CHARS = 256;

const sizeOf = (v: ArrayBuffer | string | null | undefined) => (v == null ? 0 : typeof v === "string" ? utf8Length(v) : v.byteLength);

/** Why Analytics Engine would refuse the data point, or null when it is within every limit. */
export function checkDataPoint(p: AnalyticsEngineDataPoint): string | null {
  const blobs = p.blobs ?? [];
  const doubles = p.doubles ?? [];
  const indexes = p.indexes ?? [];
  if (blobs.length > AE_LIMITS.blobs) return `${blobs.length} blobs (at most ${AE_LIMITS.blobs})`;
  if (doubles.length > AE_LIMITS.doubles) return `${doubles.length} doubles (at most ${AE_LIMITS.doubles})`;
  if (doubles.some((d) => typeof d !== "number" || !Number.isFinite(d))) return "a double is not a finite number";
  if (indexes.length > AE_LIMITS.indexes) return `${indexes.length} indexes (at most ${AE_LIMITS.indexes})`;
  const indexBytes = sizeOf(indexes[0]);
  if (indexBytes > AE_LIMITS.indexBytes) return `an index of ${indexBytes} bytes (at most ${AE_LIMITS.indexBytes})`;
  const blobBytes = blobs.reduce((sum, b) => sum + sizeOf(b), 0);
  if (blobBytes > AE_LIMITS.blobBytes) return `${blobBytes} bytes of blobs (at most ${AE_LIMITS.blobBytes})`;
  return null;
}

/**
 * The data point of one tools/call, indexed by preset id:
 * blob1 preset (`handle/slug`), blob2 method, blob3 exposed tool, blob4 upstream ('' if none),
 * blob5 caller (user id or "anonymous"), blob6 outcome; double1 latency ms, double2 request bytes,
 * double3 response bytes.
 */
export function callDataPoint(r: CallRecord): AnalyticsEngineDataPoint {
  const blob = (s: string) => (s.length > BLOB_MAX_CHARS ? s.slice(0, BLOB_MAX_CHARS) : s);
  return {
    indexes: [r.presetId],
    blobs: [blob(r.preset), r.method, blob(r.tool), blob(r.upstream ?? ""), blob(callerOf(r)), r.outcome],
    doubles: [r.latencyMs, r.requestBytes, r.responseBytes],
  };
}

export type WriteResult = "written" | "no_binding" | "invalid" | "over_budget" | "failed";

/**
 * Writes Analytics Engine data points for ONE invocation (a request into the Durable Object),
 * which may write at most AE_LIMITS.writesPerInvocation. Fire-and-forget: it never throws and
 * never waits; a refused or failed write is logged and dropped, so metrics cannot change a reply.
 * The binding is looked up at each write, so a preset works without one (self-hosting).
 */
export class MetricsWriter {
  readonly #binding: () => AnalyticsEngineDataset | undefined;
  readonly #limit: number;
  #writes = 0;

  constructor(binding: () => AnalyticsEngineDataset | undefined, limit: number = AE_LIMITS.writesPerInvocation) {
    this.#binding = binding;
    this.#limit = limit;
  }

  write(point: AnalyticsEngineDataPoint): WriteResult {
    try {
      const dataset = this.#binding();
      if (!dataset) return "no_binding";
      const problem = checkDataPoint(point);
      if (problem) {
        console.warn("metrics data point dropped:", problem);
        return "invalid";
      }
      if (this.#writes >= this.#limit) {
        if (this.#writes++ === this.#limit) console.warn(`metrics: more than ${this.#limit} data points in one invocation; the rest are dropped`);
        return "over_budget";
      }
      this.#writes++;
      // The real binding returns nothing; a binding that answers with a promise must not leave it unhandled.
      const pending = dataset.writeDataPoint(point) as unknown;
      if (pending instanceof Promise) pending.catch((e: unknown) => console.error("metrics data point not written", e));
      return "written";
    } catch (e) {
      console.error("metrics data point not written", e);
      return "failed";
    }
  }
}
