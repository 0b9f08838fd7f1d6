/** @module Shapes of the usage, call-log and server-health endpoints (the rest are in schemas.ts). */
import { z } from "zod";
import { OUTCOMES } from "../usage/call-record";
import { STATS_WINDOWS } from "../usage/stats";
import { listQuery, ServerHealth, ToolName } from "./schemas";

const Timestamp = z.string().describe("ISO 8601 time.");
const Outcome = z.enum(OUTCOMES);

export const StatsQuery = z.strictObject({
  window: z
    .enum(Object.keys(STATS_WINDOWS) as [keyof typeof STATS_WINDOWS])
    .optional()
    .describe("Default 24h. Series buckets: 1 min (1h), 15 min (24h), 1 h (7d), 1 day (30d)."),
});

const Latency = z.object({
  p50: z.number().nullable(),
  p95: z.number().nullable(),
  p99: z.number().nullable(),
  mean: z.number().nullable(),
  max: z.number().nullable(),
});

const Usage = z.object({
  calls: z.number(),
  errors: z.number().describe("Calls whose outcome is not ok."),
  errorRate: z.number().describe("errors / calls, 0 when there were none."),
  rateLimited: z.number(),
  outcomes: z.object(Object.fromEntries(OUTCOMES.map((o) => [o, z.number()])) as Record<(typeof OUTCOMES)[number], z.ZodNumber>),
  latencyMs: Latency,
  requestBytes: z.number(),
  responseBytes: z.number(),
});

export const PresetStats = z.object({
  preset: z.string().describe("`handle/slug`"),
  window: z.string(),
  from: Timestamp,
  to: Timestamp,
  bucketSeconds: z.number(),
  totals: Usage,
  tools: z.array(Usage.extend({ tool: z.string(), upstream: z.string().nullable() })),
  upstreams: z.array(Usage.extend({ upstream: z.string() })),
  callers: z.array(Usage.extend({ caller: z.string().describe("A user id, or anonymous."), handle: z.string().nullable() })).describe("The top 20 by calls."),
  callerCount: z.number(),
  series: z.array(
    z.object({ at: Timestamp, calls: z.number(), errors: z.number(), rateLimited: z.number(), p50: z.number().nullable(), p95: z.number().nullable() }),
  ),
  percentiles: z.string().describe("How the latency percentiles are estimated."),
});

export const CallsQuery = listQuery({
  tool: ToolName.optional().describe("Only calls of this exposed tool."),
  outcome: z
    .string()
    .max(200)
    .refine((s) => s.split(",").every((o) => Outcome.safeParse(o).success), `must be a comma-separated list of ${OUTCOMES.join(", ")}`)
    .optional()
    .describe("Only calls with these outcomes, comma-separated."),
});

export const CallLogEntry = z.object({
  id: z.string(),
  tool: z.string(),
  upstream: z.string().nullable(),
  caller: z.object({ userId: z.string().nullable(), handle: z.string().nullable(), ip: z.string().nullable().describe("Anonymous callers only.") }),
  outcome: Outcome,
  latencyMs: z.number(),
  requestBytes: z.number(),
  responseBytes: z.number(),
  argumentsSha256: z.string().describe("SHA-256 (hex) of the arguments' JSON as received, `{}` when absent."),
  arguments: z.unknown().describe("Only with auditArguments; the kept text when argumentsTruncated."),
  argumentsTruncated: z.boolean(),
  createdAt: Timestamp,
});

export const UpstreamHealthReport = z.object({
  server: z.string(),
  status: z.enum(["ok", "failing"]),
  latencyMs: z.number().nullable().describe("Round trip of an MCP ping through the gateway's client; null when it failed."),
  connectMs: z.number().nullable().describe("Time to open an initialized MCP session."),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  checkedAt: Timestamp,
  breakers: z.array(ServerHealth.extend({ preset: z.string() })).describe("The breaker of this server in each of your presets that use it."),
});
