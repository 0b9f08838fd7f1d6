/**
 * What a preset's object holds of upstream sessions is bounded (issue 14): past its cap the least
 * recently used idle session is closed (DELETE, so the upstream lets go too), and when every one is
 * busy a new caller gets a clear error. Driven on the real pool inside a preset object, against a
 * real fixture upstream, with a small cap.
 */
import { describe, expect, it } from "vitest";
import { BreakerBoard } from "../../src/policy/breaker-board";
import type { PresetServer } from "../../src/preset/config";
import { KV_PREFIX, kvSlice, openStorage } from "../../src/preset/storage";
import { UpstreamFailure } from "../../src/upstream/client";
import { UpstreamPool } from "../../src/upstream/pool";
import type { UpstreamCaller } from "../../src/upstream/session-scope";
import { unique, upstreamStats, upstreamUrl } from "../helpers";
import { inFreshObject } from "../preset-object";

const caller = (sessionId: string): UpstreamCaller => ({ sessionId, userId: null, capabilities: {} });

function alpha(scope: string): PresetServer {
  return {
    id: "srv_bounds",
    name: "alpha",
    url: upstreamUrl("alpha", scope),
    headers: {},
    timeoutMs: 5_000,
    selection: null,
    promptSelection: null,
    resourceSelection: null,
    naming: "prefixed",
    overrides: null,
    sessionScope: "per-session",
    fingerprint: "bounds",
  } as PresetServer;
}

/** Runs `fn` with a real pool in a fresh preset object, holding at most `maxSessions` upstream sessions. */
function withPool(maxSessions: number, fn: (pool: UpstreamPool) => Promise<void>): Promise<void> {
  return inFreshObject(async (state) => {
    openStorage(state.storage);
    const breakers = new BreakerBoard(kvSlice(state.storage, KV_PREFIX.breakers), () => {});
    await fn(new UpstreamPool(state.storage.sql, breakers, { allowInsecure: true, onToolsChanged: () => {}, maxSessions }));
  });
}

describe("upstream session bounds", () => {
  it("closes the least recently used idle session past the cap, ending it upstream", async () => {
    const scope = unique("bounds");
    const server = alpha(scope);
    await withPool(2, async (pool) => {
      const echo = (who: string) => pool.request(server, "tools/call", { name: "echo", arguments: { text: who } }, 5_000, undefined, { caller: caller(who) });
      expect((await echo("one")).content).toEqual([{ type: "text", text: "one" }]);
      await echo("two");
      await echo("one"); // now "two" is the least recently used
      await echo("three");
      expect(pool.sessionCounts()).toEqual({ srv_bounds: 2 });
      await expect.poll(async () => (await upstreamStats("alpha", scope)).sessions, { timeout: 5_000 }).toBe(2);
      expect((await upstreamStats("alpha", scope)).initializes).toBe(3);
      // "one" kept its session; "two" gets a new one.
      await echo("one");
      expect((await upstreamStats("alpha", scope)).initializes).toBe(3);
      await echo("two");
      expect((await upstreamStats("alpha", scope)).initializes).toBe(4);
    });
  });

  it("refuses a new caller with a clear error when every session is busy, and serves it once one is free", async () => {
    const scope = unique("busy");
    const server = alpha(scope);
    await withPool(1, async (pool) => {
      const slow = pool.request(server, "tools/call", { name: "sleep", arguments: { ms: 600 } }, 5_000, undefined, { caller: caller("slow") });
      // Let the slow call's session open and its call start.
      await expect.poll(async () => (await upstreamStats("alpha", scope)).requests["tools/call"] ?? 0, { timeout: 5_000 }).toBe(1);
      const refused = await pool
        .request(server, "tools/call", { name: "echo", arguments: { text: "x" } }, 5_000, undefined, { caller: caller("other") })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(UpstreamFailure);
      expect((refused as UpstreamFailure).kind).toBe("sessions_full");
      expect((refused as UpstreamFailure).message).toMatch(/holds 1 upstream sessions, all busy/);
      expect((refused as UpstreamFailure).countsAgainstUpstream).toBe(false);
      await slow;
      const served = await pool.request(server, "tools/call", { name: "echo", arguments: { text: "x" } }, 5_000, undefined, { caller: caller("other") });
      expect(served.content).toEqual([{ type: "text", text: "x" }]);
    });
  });
});
