import { env, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { presetStub } from "../../src/edge/preset-stub";
import { type CallOutcome, type CallRecord, OUTCOMES } from "../../src/usage/call-record";
import { UsageRecorder } from "../../src/usage/recorder";
import { api, createUser, givenPreset, type TestUser, unique, upstreamUrl } from "../helpers";
import { mcpPost, rawSession } from "../mcp-raw";
import { type MetricsRecorder, recordMetrics } from "../metrics-recorder";
import { inFreshObject } from "../preset-object";

let metrics: MetricsRecorder;
beforeEach(() => {
  metrics = recordMetrics();
});
afterEach(() => metrics.restore());

/** The outcome a reply tells the client, as the gateway should count it. */
function outcomeOf(res: { status: number; json: any }): CallOutcome {
  if (res.status === 401 || res.status === 403) return "denied";
  const error = res.json?.error;
  if (!error) return res.json.result.isError ? "tool_error" : "ok";
  switch (error.code) {
    case -32029:
      return "rate_limited";
    case -32013:
      return "breaker_open";
    case -32011:
      return "timeout";
    case -32010:
    case -32012:
      return "upstream_error";
    case -32800:
      return "cancelled";
    case -32602:
      return error.message.startsWith("Unknown tool") ? "denied" : "tool_error";
    default:
      return "tool_error"; // the upstream's own JSON-RPC error
  }
}

interface Made {
  caller: string;
  tool: string;
  upstream: string | null;
  outcome: CallOutcome;
}

/** A public preset over three upstreams (one healthy, one answering JSON-RPC errors, one broken). */
async function statsPreset() {
  const p = await givenPreset({
    toolLimits: { alpha__add: { requests: 1, windowSeconds: 60 } },
    servers: [
      { name: "alpha", url: upstreamUrl("alpha"), timeoutMs: 1000, tools: ["echo", "add", "fail", "sleep"] },
      { name: "strict", url: upstreamUrl("strict") },
      { name: "broken", url: upstreamUrl("error500", unique("stats")), tools: ["anything"] },
    ],
  });
  return { ...p, other: await createUser() };
}

describe("usage stats", () => {
  it("counts N calls with mixed outcomes exactly, per tool, upstream and caller, and writes one data point each", async () => {
    const p = await statsPreset();
    const made: Made[] = [];
    let id = 1;
    const callAs = async (who: TestUser | null, session: string, name: string, args: Record<string, unknown> = {}) => {
      const res = await mcpPost(
        p.url,
        { jsonrpc: "2.0", id: id++, method: "tools/call", params: { name, arguments: args } },
        { sessionId: session, token: who?.token },
      );
      const server = name.includes("__") ? name.split("__")[0]! : null;
      const outcome = outcomeOf(res);
      const known = ["alpha", "strict", "broken"].includes(server ?? "") && name !== "nope__tool";
      made.push({ caller: who ? who.id : "anonymous", tool: known ? name : "(unknown)", upstream: known ? server : null, outcome });
      return res;
    };
    const ownerSession = await rawSession(p.url, p.owner.token);
    const otherSession = await rawSession(p.url, p.other.token);
    const anonSession = await rawSession(p.url);

    for (let i = 0; i < 3; i++) await callAs(p.owner, ownerSession, "alpha__echo", { text: `o${i}` });
    for (let i = 0; i < 2; i++) await callAs(p.other, otherSession, "alpha__echo", { text: `x${i}` });
    await callAs(p.other, otherSession, "alpha__add", { a: 1, b: 2 });
    await callAs(p.other, otherSession, "alpha__add", { a: 1, b: 2 }); // the tool's own limit: 1 per minute
    await callAs(null, anonSession, "alpha__fail");
    await callAs(null, anonSession, "alpha__fail");
    await callAs(null, anonSession, "strict__picky");
    await callAs(null, anonSession, "nope__tool");
    await callAs(null, anonSession, "alpha__sleep", { ms: 3000 });
    for (let i = 0; i < 7; i++) await callAs(p.owner, ownerSession, "broken__anything");

    const tally = (list: Made[]) => Object.fromEntries(OUTCOMES.map((o) => [o, list.filter((m) => m.outcome === o).length]));
    const expected = tally(made);
    for (const o of ["ok", "tool_error", "upstream_error", "timeout", "rate_limited", "breaker_open", "denied"] as const)
      expect(expected[o], o).toBeGreaterThan(0);

    const res = await api("GET", `/presets/${p.slug}/stats?window=1h`, { token: p.owner.token });
    expect(res.status).toBe(200);
    const stats = res.body;
    const N = made.length;
    expect(stats.preset).toBe(`${p.owner.handle}/${p.slug}`);
    expect(stats.totals).toMatchObject({ calls: N, errors: N - expected.ok!, rateLimited: expected.rate_limited, outcomes: expected });
    expect(stats.totals.errorRate).toBeCloseTo((N - expected.ok!) / N, 4);

    const byTool = Object.fromEntries(stats.tools.map((t: any) => [t.tool, t]));
    for (const tool of new Set(made.map((m) => m.tool))) {
      const mine = made.filter((m) => m.tool === tool);
      expect(byTool[tool], tool).toMatchObject({ calls: mine.length, outcomes: tally(mine), upstream: mine[0]!.upstream });
    }
    const byUpstream = Object.fromEntries(stats.upstreams.map((u: any) => [u.upstream, u.calls]));
    expect(byUpstream).toEqual({
      alpha: made.filter((m) => m.upstream === "alpha").length,
      strict: made.filter((m) => m.upstream === "strict").length,
      broken: made.filter((m) => m.upstream === "broken").length,
    });
    const byCaller = Object.fromEntries(stats.callers.map((c: any) => [c.caller, c]));
    expect(byCaller[p.owner.id]).toMatchObject({ handle: p.owner.handle, calls: made.filter((m) => m.caller === p.owner.id).length });
    expect(byCaller[p.other.id]).toMatchObject({ handle: p.other.handle, calls: 4 });
    expect(byCaller.anonymous).toMatchObject({ handle: null, calls: 5 });
    expect(stats.callerCount).toBe(3);

    expect(stats.series).toHaveLength(60);
    expect(stats.bucketSeconds).toBe(60);
    expect(stats.series.reduce((sum: number, s: any) => sum + s.calls, 0)).toBe(N);
    const { p50, p95, p99, max } = stats.totals.latencyMs;
    expect(p50).toEqual(expect.any(Number));
    expect(p50).toBeLessThanOrEqual(p95);
    expect(p95).toBeLessThanOrEqual(p99);
    expect(p99).toBeLessThanOrEqual(max);
    expect(max).toBeGreaterThanOrEqual(1000); // the call that timed out
    expect(stats.percentiles).toMatch(/estimated from a latency histogram.*linear interpolation/);

    // Analytics Engine: exactly one data point per call, with the same outcomes.
    const points = metrics.of(p.presetId);
    expect(points).toHaveLength(N);
    expect(points.map((pt) => pt.blobs![5])).toEqual(made.map((m) => m.outcome));
    expect(points[0]).toMatchObject({
      indexes: [p.presetId],
      blobs: [`${p.owner.handle}/${p.slug}`, "tools/call", "alpha__echo", "alpha", p.owner.id, "ok"],
    });
    for (const pt of points) {
      expect(pt.doubles).toHaveLength(3);
      expect(pt.doubles![1]).toBeGreaterThan(0); // request bytes
    }
  });

  it("answers the same counts again: reading stats flushes once and never double-counts", async () => {
    const p = await statsPreset();
    const session = await rawSession(p.url);
    for (let i = 0; i < 4; i++)
      await mcpPost(p.url, { jsonrpc: "2.0", id: i, method: "tools/call", params: { name: "alpha__echo", arguments: { text: "t" } } }, { sessionId: session });
    const first = await api("GET", `/presets/${p.slug}/stats?window=24h`, { token: p.owner.token });
    const second = await api("GET", `/presets/${p.slug}/stats?window=24h`, { token: p.owner.token });
    expect(first.body.totals.calls).toBe(4);
    expect(second.body.totals).toEqual(first.body.totals);
    expect(first.body.series).toHaveLength(96);
    expect(first.body.bucketSeconds).toBe(900);
    for (const window of ["7d", "30d"]) {
      const res = await api("GET", `/presets/${p.slug}/stats?window=${window}`, { token: p.owner.token });
      expect(res.body.totals.calls).toBe(4);
      expect(res.body.series).toHaveLength(window === "7d" ? 168 : 30);
    }
  });

  it("flushes rollups to D1 from the preset's alarm", async () => {
    const p = await statsPreset();
    const session = await rawSession(p.url);
    for (let i = 0; i < 3; i++)
      await mcpPost(p.url, { jsonrpc: "2.0", id: i, method: "tools/call", params: { name: "alpha__echo", arguments: { text: "t" } } }, { sessionId: session });
    const stored = () => env.DB.prepare("SELECT COALESCE(SUM(calls), 0) AS n FROM usage_rollups WHERE preset_id = ?").bind(p.presetId).first<{ n: number }>();
    expect((await stored())?.n).toBe(0);
    expect(await runDurableObjectAlarm(presetStub(env, p.owner.handle, p.slug))).toBe(true);
    expect((await stored())?.n).toBe(3);
    const stats = await api("GET", `/presets/${p.slug}/stats`, { token: p.owner.token });
    expect(stats.body.totals.calls).toBe(3);
  });

  it("lets only the owner read a preset's stats", async () => {
    const p = await statsPreset();
    const member = await createUser();
    await api("PATCH", `/presets/${p.slug}`, { token: p.owner.token, body: { visibility: "invite_only" } });
    await api("POST", `/presets/${p.slug}/members`, { token: p.owner.token, body: { handle: member.handle } });
    expect((await api("GET", `/presets/${p.slug}/stats`, { token: p.owner.token })).status).toBe(200);
    expect((await api("GET", `/presets/${p.slug}/stats`, { token: member.token })).status).toBe(404);
    expect((await api("GET", `/presets/${p.slug}/stats`, { token: p.other.token })).status).toBe(404);
    expect((await api("GET", `/presets/${p.slug}/stats`)).status).toBe(401);
    expect((await api("GET", `/presets/${p.slug}/stats`, { token: env.ADMIN_TOKEN })).status).toBe(403);
    const bad = await api("GET", `/presets/${p.slug}/stats?window=2h`, { token: p.owner.token });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("window");
  });

  it("counts a flush exactly once even when D1 committed it but the reply was lost", async () => {
    const presetId = unique("prs");
    const call = (at: number): CallRecord => ({
      presetId,
      preset: "x/y",
      method: "tools/call",
      tool: "a__b",
      upstream: "a",
      userId: null,
      ip: null,
      outcome: "ok",
      latencyMs: 5,
      requestBytes: 10,
      responseBytes: 10,
      arguments: undefined,
      at,
    });
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    await inFreshObject(async (state) => {
      let loseReply = true;
      const flaky = {
        prepare: (sql: string) => env.DB.prepare(sql),
        batch: async (statements: D1PreparedStatement[]) => {
          const result = await env.DB.batch(statements);
          if (loseReply) {
            loseReply = false;
            throw new Error("Network connection lost.");
          }
          return result;
        },
      } as unknown as D1Database;
      const recorder = new UsageRecorder(state.storage.sql, { db: () => flaky, metrics: () => undefined, scheduleAlarm: () => {} });
      const writer = recorder.metricsWriter();
      for (let i = 0; i < 3; i++) recorder.record(call(Date.now()), writer, { calls: false, arguments: false });
      expect(await recorder.flush()).toBe(true); // D1 has the rows, but the object never heard back
      expect(recorder.pending).toBe(true);
      recorder.record(call(Date.now()), writer, { calls: false, arguments: false });
      expect(await recorder.flush()).toBe(false); // the retry is refused as a duplicate; the new call goes in
      expect(recorder.pending).toBe(false);
    });
    error.mockRestore();
    const stored = await env.DB.prepare("SELECT SUM(calls) AS n FROM usage_rollups WHERE preset_id = ?").bind(presetId).first<{ n: number }>();
    expect(stored?.n).toBe(4);
  });

  it("flushes many distinct rollup rows in chunks, each row exactly once", async () => {
    const presetId = unique("prs");
    await inFreshObject(async (state) => {
      const recorder = new UsageRecorder(state.storage.sql, { db: () => env.DB, metrics: () => undefined, scheduleAlarm: () => {} });
      const writer = recorder.metricsWriter();
      const at = Date.now();
      for (let i = 0; i < 1200; i++) {
        recorder.record(
          {
            presetId,
            preset: "x/y",
            method: "tools/call",
            tool: `s__t${i}`,
            upstream: "s",
            userId: i % 2 ? "usr_a" : null,
            ip: null,
            outcome: i % 3 ? "ok" : "tool_error",
            latencyMs: i % 50,
            requestBytes: 1,
            responseBytes: 2,
            arguments: undefined,
            at,
          },
          writer,
          { calls: false, arguments: false },
        );
      }
      expect(await recorder.flush()).toBe(false);
    });
    const row = await env.DB.prepare(
      "SELECT COUNT(*) AS n, SUM(calls) AS calls, SUM(ok) AS ok, SUM(tool_error) AS errors, SUM(response_bytes) AS bytes FROM usage_rollups WHERE preset_id = ?",
    )
      .bind(presetId)
      .first<Record<string, number>>();
    expect(row).toEqual({ n: 1200, calls: 1200, ok: 800, errors: 400, bytes: 2400 });
  });
});
