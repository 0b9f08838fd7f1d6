import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { presetStub } from "../../src/edge/preset-stub";
import { SESSION_EVICTABLE_IDLE_MS, SESSIONS_PER_CALLER, SESSIONS_PER_PRESET } from "../../src/preset/session-store";
import { givenPreset, upstreamUrl } from "../helpers";
import { INIT, LATEST_VERSION, mcpPost, openSession, rpc, toolCall } from "../mcp-raw";

/**
 * Finding 2 of issue 12: anonymous initialize calls with a huge `capabilities` object filled the
 * preset's Durable Object (SQLite and its session cache), and one caller could open any number of
 * sessions. A session now keeps only the capability flags the gateway reads, a caller holds at
 * most SESSIONS_PER_CALLER sessions and the preset at most SESSIONS_PER_PRESET.
 */

const headersOf = (ip: string) => ({ headers: { "cf-connecting-ip": ip } });

async function initialize(url: string, ip: string, capabilities: Record<string, unknown> = {}, clientInfo?: Record<string, unknown>) {
  const body = INIT(1, LATEST_VERSION, capabilities);
  if (clientInfo) body.params.clientInfo = clientInfo as { name: string; version: string };
  return mcpPost(url, body, headersOf(ip));
}

const stubOf = (owner: string, slug: string) => presetStub(env, owner, slug);

/** The sessions table of a preset's object, as rows. */
function sessionRows(owner: string, slug: string) {
  return runInDurableObject(stubOf(owner, slug), (_i, state) =>
    state.storage.sql.exec<{ id: string; capabilities: string; client_name: string | null }>("SELECT id, capabilities, client_name FROM sessions").toArray(),
  );
}

describe("what an initialize makes the preset's object keep", () => {
  it("keeps only the capability flags the gateway reads, never a client's 900 KB experimental object", async () => {
    const p = await givenPreset();
    const huge = "x".repeat(900 * 1024);
    const res = await initialize(
      p.url,
      "198.51.100.1",
      {
        experimental: { x: huge },
        sampling: { context: huge.slice(0, 1000) },
        elicitation: { form: {}, url: { extra: 1 }, other: {} },
        roots: { listChanged: true, junk: "y" },
      },
      { name: "n".repeat(5_000), version: "v".repeat(5_000) },
    );
    expect(res.status).toBe(200);
    const rows = await sessionRows(p.owner.handle, p.slug);
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]!.capabilities)).toEqual({ sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } });
    expect(rows[0]!.client_name).toHaveLength(200);
  });

  it(`ends a caller's least recently used session when it opens a ${SESSIONS_PER_CALLER + 1}st, and leaves other callers' alone`, async () => {
    const p = await givenPreset();
    const other = await initialize(p.url, "198.51.100.9");
    const ids: string[] = [];
    for (let i = 0; i <= SESSIONS_PER_CALLER; i++) {
      const res = await initialize(p.url, "198.51.100.2");
      expect(res.status).toBe(200);
      ids.push(res.headers.get("mcp-session-id")!);
    }
    const ping = (id: string, ip: string) =>
      mcpPost(p.url, { jsonrpc: "2.0", id: 2, method: "ping" }, { sessionId: id, protocolVersion: LATEST_VERSION, ...headersOf(ip) });
    expect((await ping(ids[0]!, "198.51.100.2")).status).toBe(404);
    expect((await ping(ids[1]!, "198.51.100.2")).status).toBe(200);
    expect((await ping(ids.at(-1)!, "198.51.100.2")).status).toBe(200);
    expect((await ping(other.headers.get("mcp-session-id")!, "198.51.100.9")).status).toBe(200);
    expect(await sessionRows(p.owner.handle, p.slug)).toHaveLength(SESSIONS_PER_CALLER + 1);
  });

  it(`refuses a new session with 503, a JSON-RPC error and Retry-After when the preset holds ${SESSIONS_PER_PRESET} busy sessions, and ends an idle one otherwise`, async () => {
    const p = await givenPreset();
    const first = await openSession(p.url);
    // Fill the object with sessions of other callers, all seen just now.
    await runInDurableObject(stubOf(p.owner.handle, p.slug), (_i, state) => {
      const now = Date.now();
      for (let i = 1; i < SESSIONS_PER_PRESET; i++) {
        state.storage.sql.exec(
          "INSERT INTO sessions (id, preset_id, principal, caller, protocol_version, client_name, capabilities, created_at, last_seen) VALUES (?, ?, 'anon', ?, ?, NULL, '{}', ?, ?)",
          `filler-${i}`,
          p.presetId,
          `ip:10.0.${i >> 8}.${i & 255}`,
          LATEST_VERSION,
          now,
          now,
        );
      }
    });
    const refused = await initialize(p.url, "198.51.100.3");
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("60");
    expect(refused.json).toMatchObject({ jsonrpc: "2.0", id: 1, error: { code: -32030, data: { retryAfterSeconds: 60 } } });
    expect((await rpc(first, 2, "ping")).result).toEqual({});

    // One filler goes idle: the next initialize ends it and gets in.
    await runInDurableObject(stubOf(p.owner.handle, p.slug), (_i, state) => {
      state.storage.sql.exec("UPDATE sessions SET last_seen = ? WHERE id = 'filler-7'", Date.now() - SESSION_EVICTABLE_IDLE_MS - 1);
    });
    expect((await initialize(p.url, "198.51.100.3")).status).toBe(200);
    const rows = await sessionRows(p.owner.handle, p.slug);
    expect(rows).toHaveLength(SESSIONS_PER_PRESET);
    expect(rows.some((r) => r.id === "filler-7")).toBe(false);
  });
});

describe("the per-session budget", () => {
  it("refuses a session's calls past the preset's call limit even when each comes from another address", async () => {
    const p = await givenPreset({ rateLimit: { requests: 3, windowSeconds: 60 }, servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    const sessionId = (await initialize(p.url, "198.51.100.40")).headers.get("mcp-session-id")!;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await mcpPost(p.url, toolCall(i + 1, "alpha__echo", { text: "x" }), {
        sessionId,
        protocolVersion: LATEST_VERSION,
        ...headersOf(`198.51.100.${50 + i}`),
      });
      statuses.push(res.status);
      if (res.status === 429) expect(res.json.error).toMatchObject({ code: -32029 });
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });
});

describe("sessions stored by the release before the caps", () => {
  it("drops on upgrade the sessions that stored a client's capabilities beyond 4 KiB, and keeps the others usable", async () => {
    const p = await givenPreset();
    expect((await initialize(p.url, "198.51.100.60")).status).toBe(200);
    const stub = stubOf(p.owner.handle, p.slug);
    const now = Date.now();
    await runInDurableObject(stub, (_i, state) => {
      const sql = state.storage.sql;
      // Back to schema version 3: no caller column.
      sql.exec("DROP INDEX sessions_caller");
      sql.exec("ALTER TABLE sessions DROP COLUMN caller");
      sql.exec("UPDATE storage_version SET version = 3");
      const insert = (id: string, capabilities: unknown) =>
        sql.exec("INSERT INTO sessions VALUES (?, ?, 'anon', ?, 'old', ?, ?, ?)", id, p.presetId, LATEST_VERSION, JSON.stringify(capabilities), now, now);
      insert("legacy-huge", { experimental: { x: "x".repeat(1_000_000) } });
      insert("legacy-small", { sampling: {}, experimental: { y: "short" } });
    });
    await evictDurableObject(stub);
    const ping = (id: string) => mcpPost(p.url, { jsonrpc: "2.0", id: 2, method: "ping" }, { sessionId: id, protocolVersion: LATEST_VERSION });
    expect((await ping("legacy-small")).status).toBe(200);
    expect((await ping("legacy-huge")).status).toBe(404);
    const rows = await sessionRows(p.owner.handle, p.slug);
    expect(rows.map((r) => r.id)).toContain("legacy-small");
    expect(rows.every((r) => r.capabilities.length < 4096)).toBe(true);
  });
});

describe("anonymous callers without a known address", () => {
  it("are not capped as one caller: a 21st session of theirs ends no one else's", async () => {
    const p = await givenPreset();
    const ids: string[] = [];
    for (let i = 0; i <= SESSIONS_PER_CALLER; i++) ids.push((await mcpPost(p.url, INIT())).headers.get("mcp-session-id")!);
    const ping = await mcpPost(p.url, { jsonrpc: "2.0", id: 2, method: "ping" }, { sessionId: ids[0]!, protocolVersion: LATEST_VERSION });
    expect(ping.status).toBe(200);
  });
});
