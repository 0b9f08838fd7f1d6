/**
 * When an upstream session ends (issue 17): only a 404 means the upstream lost it (opened again,
 * no DELETE); any other failure keeps it; a session the gateway lets go of is ended with DELETE,
 * and the one-shot sessions of health checks and live listings leave nothing open upstream.
 * Against a real SDK fixture upstream that counts sessions and DELETEs.
 */
import { describe, expect, it } from "vitest";
import { BreakerBoard } from "../../src/policy/breaker-board";
import type { PresetServer } from "../../src/preset/config";
import { KV_PREFIX, kvSlice, openStorage } from "../../src/preset/storage";
import { UpstreamFailure } from "../../src/upstream/client";
import { fetchUpstreamItems, fetchUpstreamTools, pingUpstream } from "../../src/upstream/one-shot";
import { UpstreamPool } from "../../src/upstream/pool";
import { expireUpstreamSessions, failUpstreamRequests, unique, upstreamStats, upstreamUrl } from "../helpers";
import { inFreshObject } from "../preset-object";

function alpha(scope: string, fingerprint = "v1", upstream = "alpha"): PresetServer {
  return {
    id: "srv_end",
    name: "alpha",
    url: upstreamUrl(upstream, scope),
    headers: {},
    timeoutMs: 5_000,
    selection: null,
    promptSelection: null,
    resourceSelection: null,
    naming: "prefixed",
    overrides: null,
    sessionScope: "shared",
    fingerprint,
  } as PresetServer;
}

function withPool(fn: (pool: UpstreamPool) => Promise<void>): Promise<void> {
  return inFreshObject(async (state) => {
    openStorage(state.storage);
    const breakers = new BreakerBoard(kvSlice(state.storage, KV_PREFIX.breakers), () => {});
    await fn(new UpstreamPool(state.storage.sql, breakers, { allowInsecure: true, onToolsChanged: () => {} }));
  });
}

const echo = (pool: UpstreamPool, server: PresetServer, text: string) => pool.request(server, "tools/call", { name: "echo", arguments: { text } }, 5_000);
const POLL = { timeout: 5_000, interval: 20 };

describe("upstream session end", () => {
  it("keeps the session after an upstream HTTP 500: the next call reuses it, with no new initialize and no DELETE", async () => {
    const scope = unique("http500");
    const server = alpha(scope);
    await withPool(async (pool) => {
      await echo(pool, server, "before");
      await failUpstreamRequests("alpha", scope, 1);
      const failed = await echo(pool, server, "fails").catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(UpstreamFailure);
      expect((failed as UpstreamFailure).kind).toBe("http_error");
      expect((await echo(pool, server, "after")).content).toEqual([{ type: "text", text: "after" }]);
      const stats = await upstreamStats("alpha", scope);
      expect(stats.initializes).toBe(1);
      expect(stats.deletes).toBe(0);
      expect(stats.sessions).toBe(1);
    });
  });

  it("opens a new session after the upstream lost the old one (404), without a DELETE of the old one", async () => {
    const scope = unique("lost");
    const server = alpha(scope);
    await withPool(async (pool) => {
      await echo(pool, server, "before");
      await expireUpstreamSessions("alpha", scope);
      expect((await echo(pool, server, "after")).content).toEqual([{ type: "text", text: "after" }]);
      // Give a stray DELETE time to arrive before saying there was none.
      await new Promise((r) => setTimeout(r, 200));
      const stats = await upstreamStats("alpha", scope);
      expect(stats.initializes).toBe(2);
      expect(stats.deletes).toBe(0);
      expect(stats.sessions).toBe(1);
    });
  });

  it("ends with a DELETE the sessions of a server whose preset config changed", async () => {
    const scope = unique("retain");
    await withPool(async (pool) => {
      await echo(pool, alpha(scope, "v1"), "before");
      expect((await upstreamStats("alpha", scope)).sessions).toBe(1);
      pool.retain([alpha(scope, "v2")]);
      await expect.poll(async () => (await upstreamStats("alpha", scope)).sessions, POLL).toBe(0);
      expect((await upstreamStats("alpha", scope)).deletes).toBe(1);
    });
  });

  it("ends idle sessions with a DELETE", async () => {
    const scope = unique("idle");
    await withPool(async (pool) => {
      await echo(pool, alpha(scope), "before");
      expect(pool.closeIfIdle(Date.now() + 1, 0)).toBe(false);
      await expect.poll(async () => (await upstreamStats("alpha", scope)).sessions, POLL).toBe(0);
      expect((await upstreamStats("alpha", scope)).deletes).toBe(1);
    });
  });

  it("leaves no session open upstream after a health check, a live tool listing or a live prompt and resource listing", async () => {
    const scope = unique("oneshot");
    const server = alpha(scope, "v1", "conformance");
    const opts = { allowInsecure: true };
    expect((await pingUpstream(server, opts)).ok).toBe(true);
    expect((await fetchUpstreamTools(server, opts)).length).toBeGreaterThan(0);
    expect((await fetchUpstreamItems(server, opts)).prompts.length).toBeGreaterThan(0);
    const stats = await upstreamStats("conformance", scope);
    expect(stats.initializes).toBe(3);
    expect(stats.deletes).toBe(3);
    expect(stats.sessions).toBe(0);
  });

  it("ends the session a failed handshake left open upstream", async () => {
    const scope = unique("handshake");
    const server = alpha(scope);
    // The upstream opens the session at initialize, then fails notifications/initialized.
    await failUpstreamRequests("alpha", scope, 1);
    const ping = await pingUpstream(server, { allowInsecure: true });
    expect(ping.ok).toBe(false);
    const stats = await upstreamStats("alpha", scope);
    expect(stats.initializes).toBe(1);
    expect(stats.deletes).toBe(1);
    expect(stats.sessions).toBe(0);
  });
});
