import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { presetStub } from "../../src/edge/preset-stub";
import { signJwt } from "../../src/oauth/keys";
import { STORAGE_VERSION, storageVersion } from "../../src/preset/storage";
import { COUNT_COLUMNS } from "../../src/usage/rollup";
import { api, givenPreset, ORIGIN, unique, upstreamUrl } from "../helpers";
import { INIT, mcpPost, toolCall } from "../mcp-raw";

/**
 * A preset object written by the release before versioned storage (0.1.0: no schema version, each
 * module created its own tables, pending usage in `usage_pending_v1`) must keep working after an
 * upgrade: its sessions, rate-limit counters, breakers, revoked grants and unflushed usage survive.
 */

const IP = "203.0.113.7";
const V0_COUNT_COLUMNS = [
  "calls",
  "ok",
  "tool_error",
  "upstream_error",
  "timeout",
  "rate_limited",
  "breaker_open",
  "denied",
  "cancelled",
  "latency_count",
  "latency_sum",
  "request_bytes",
  "response_bytes",
  ...Array.from({ length: 17 }, (_, i) => `h${String(i).padStart(2, "0")}`),
  "latency_max",
];

/** What the 0.1.0 release's constructors created, written out by hand. */
function writeReleaseZeroSchema(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE sessions (
    id TEXT PRIMARY KEY, preset_id TEXT NOT NULL, principal TEXT NOT NULL, protocol_version TEXT NOT NULL,
    client_name TEXT, capabilities TEXT NOT NULL, created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL)`);
  sql.exec("CREATE INDEX sessions_last_seen ON sessions(last_seen)");
  sql.exec(`CREATE TABLE sse_streams (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, kind TEXT NOT NULL, request_id TEXT,
    done INTEGER NOT NULL DEFAULT 0, touched_at INTEGER NOT NULL)`);
  sql.exec(`CREATE TABLE sse_events (stream_id TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, at INTEGER NOT NULL,
    PRIMARY KEY (stream_id, seq))`);
  sql.exec("CREATE INDEX sse_events_at ON sse_events(at)");
  sql.exec("CREATE TABLE upstream_profiles (server_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, profile TEXT NOT NULL)");
  sql.exec("CREATE TABLE upstream_tools (server_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, tools TEXT NOT NULL, fetched_at INTEGER NOT NULL)");
  sql.exec(`CREATE TABLE usage_pending_v1 (flush_id TEXT NOT NULL, preset_id TEXT NOT NULL, bucket_start INTEGER NOT NULL, tool TEXT NOT NULL,
    upstream TEXT NOT NULL, caller TEXT NOT NULL, ${V0_COUNT_COLUMNS.map((c) => `${c} INTEGER NOT NULL DEFAULT 0`).join(", ")},
    PRIMARY KEY (flush_id, preset_id, bucket_start, tool, upstream, caller))`);
}

/** Turns the object's storage into what 0.1.0 would have left: no version, its tables, these rows. */
async function rewindToReleaseZero(stub: DurableObjectStub, fill: (sql: SqlStorage, storage: DurableObjectStorage) => void): Promise<void> {
  await runInDurableObject(stub, async (_instance, state) => {
    const sql = state.storage.sql;
    for (const table of ["sessions", "sse_streams", "sse_events", "upstream_profiles", "upstream_tools", "usage_pending"])
      sql.exec(`DROP TABLE IF EXISTS ${table}`);
    sql.exec("DROP TABLE IF EXISTS storage_version");
    writeReleaseZeroSchema(sql);
    fill(sql, state.storage);
  });
  // The next request starts a new instance of the new code on that storage.
  await evictDurableObject(stub);
}

/** A public preset over the fixture upstream `alpha` (or over nothing, so no upstream session keeps the object busy). */
async function preset(extra: { rateLimit?: { requests: number; windowSeconds: number } } = {}, withUpstream = true) {
  const p = await givenPreset({ ...extra, servers: withUpstream ? [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] : [] });
  return { ...p, stub: presetStub(env, p.owner.handle, p.slug) };
}

const call = (id: number) => toolCall(id, "alpha__echo", { text: `n${id}` });

describe("preset storage upgrades", () => {
  it("gives a new object the current schema version, with every column the usage recorder writes", async () => {
    const p = await preset();
    expect((await mcpPost(p.url, INIT())).status).toBe(200);
    await runInDurableObject(p.stub, async (_instance, state) => {
      expect(storageVersion(state.storage.sql)).toBe(STORAGE_VERSION);
      const columns = state.storage.sql
        .exec<{ name: string }>("PRAGMA table_info(usage_pending)")
        .toArray()
        .map((c) => c.name);
      // A counter added to the rollup layout without a storage migration fails here.
      for (const column of ["flush_id", "preset_id", "bucket_start", "tool", "upstream", "caller", ...COUNT_COLUMNS]) expect(columns).toContain(column);
    });
  });

  it("keeps the sessions, rate-limit counters, breakers, revoked grants and unflushed usage of an object written by 0.1.0", async () => {
    const p = await preset({ rateLimit: { requests: 3, windowSeconds: 60 } });
    const now = Date.now();
    const sessionId = `s${unique("legacy").replace(/[^a-z0-9]/g, "")}`.padEnd(32, "0").slice(0, 32);
    const bucket = now - (now % 60_000);
    const alphaId = p.servers.alpha.id as string;
    await rewindToReleaseZero(p.stub, (sql, storage) => {
      // The tool list cached before the upgrade (the fingerprint is url, sealed headers, timeout).
      sql.exec(
        "INSERT INTO upstream_tools VALUES (?, ?, ?, ?)",
        alphaId,
        `${upstreamUrl("alpha")}\n\n30000`,
        JSON.stringify([{ name: "echo", description: "cached by 0.1.0", inputSchema: { type: "object" } }]),
        now,
      );
      sql.exec("INSERT INTO sessions VALUES (?, ?, 'anon', '2025-11-25', 'legacy-client', '{}', ?, ?)", sessionId, p.presetId, now, now);
      const counts = V0_COUNT_COLUMNS.map((c) => (c === "calls" || c === "ok" ? 7 : 0));
      sql.exec(
        `INSERT INTO usage_pending_v1 (flush_id, preset_id, bucket_start, tool, upstream, caller, ${V0_COUNT_COLUMNS.join(", ")}) VALUES ('', ?, ?, 'alpha__echo', 'alpha', 'anonymous', ${V0_COUNT_COLUMNS.map(() => "?").join(", ")})`,
        p.presetId,
        bucket,
        ...counts,
      );
      // Two of the three calls this minute were already made.
      storage.kv.put(`rl:calls|ip:${IP}`, [now - 2_000, now - 1_000]);
      storage.kv.put(`br:${alphaId}`, {
        state: "open",
        retryAt: now + 30_000,
        outcomes: [],
        opens: 1,
        lastError: { message: "Upstream 'alpha' answered HTTP 503.", at: now - 500 },
        lastSuccessAt: null,
      });
      storage.kv.put("rg:grt_revoked", now + 3_600_000);
    });

    // The session opened before the upgrade is still the caller's.
    const listed = await mcpPost(p.url, { jsonrpc: "2.0", id: 1, method: "tools/list" }, { sessionId, headers: { "cf-connecting-ip": IP } });
    expect(listed.status).toBe(200);
    // Its catalog is the one cached before the upgrade (the open breaker keeps the upstream from being asked).
    expect(listed.json.result.tools).toEqual([{ name: "alpha__echo", description: "cached by 0.1.0", inputSchema: { type: "object" } }]);

    // The breaker is still open: the call fails fast, and it still counts against the limit.
    const first = await mcpPost(p.url, call(2), { sessionId, headers: { "cf-connecting-ip": IP } });
    expect(first.status).toBe(200);
    expect(first.json.error).toMatchObject({ code: -32013, data: { upstream: "alpha", reason: "breaker_open" } });
    expect(first.headers.get("ratelimit-remaining")).toBe("0");
    const refused = await mcpPost(p.url, call(3), { sessionId, headers: { "cf-connecting-ip": IP } });
    expect(refused.status).toBe(429);

    const view = await api("GET", `/presets/${p.slug}`, { token: p.owner.token });
    expect(view.body.servers[0].health).toMatchObject({ breaker: "open", breakerOpens: 1, lastError: { message: "Upstream 'alpha' answered HTTP 503." } });

    // An access token of the grant revoked before the upgrade is still refused.
    const token = await signJwt(
      env,
      { scope: "mcp", client_id: "mcpc_x", gid: "grt_revoked" },
      { typ: "at+jwt", expiresInSeconds: 600, audience: p.url, issuer: ORIGIN, subject: p.owner.id },
    );
    const revoked = await mcpPost(p.url, { jsonrpc: "2.0", id: 4, method: "tools/list" }, { sessionId, token });
    expect(revoked.status).toBe(401);
    expect(revoked.json.error.message).toMatch(/revoked/);

    // The usage counted before the upgrade reaches D1 once, beside what came after.
    await p.stub.flushUsage();
    const stored = await env.DB.prepare("SELECT SUM(calls) AS calls, SUM(ok) AS ok, SUM(breaker_open) AS fast FROM usage_rollups WHERE preset_id = ?")
      .bind(p.presetId)
      .first<Record<string, number>>();
    expect(stored).toEqual({ calls: 7 + 2, ok: 7, fast: 1 });

    await runInDurableObject(p.stub, async (_instance, state) => {
      const sql = state.storage.sql;
      expect(storageVersion(sql)).toBe(STORAGE_VERSION);
      expect(sql.exec("SELECT name FROM sqlite_master WHERE name = 'usage_pending_v1'").toArray()).toHaveLength(0);
    });
  });

  it("leaves storage written by a newer release as it is (a rollback) and keeps serving", async () => {
    const p = await preset({}, false);
    const init = () => mcpPost(p.url, INIT());
    expect((await init()).status).toBe(200);
    await runInDurableObject(p.stub, async (_instance, state) => {
      state.storage.sql.exec("UPDATE storage_version SET version = ?", STORAGE_VERSION + 1);
    });
    await evictDurableObject(p.stub);
    const again = await init();
    expect(again.status).toBe(200);
    await runInDurableObject(p.stub, async (_instance, state) => {
      expect(storageVersion(state.storage.sql)).toBe(STORAGE_VERSION + 1);
    });
  });
});
