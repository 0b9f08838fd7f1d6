/**
 * @module One Durable Object per preset (named `<handle>/<slug>`): it sees every MCP request of
 * its preset. This class is its RPC surface and the wiring of what it holds:
 * - the preset's configuration (ConfigCache, invalidated by the API on every change) and admission;
 * - the MCP sessions of its clients (SessionStore) and their SSE streams (SessionStreams);
 * - exact per-caller rate limits (RateLimits) and one circuit breaker per upstream (BreakerBoard);
 * - the upstream MCP sessions, per server and session scope (UpstreamPool), the tool catalog (CatalogCache), prompts
 *   and resources (PresetItems), and what clients are told unasked (PresetNotifications);
 * - usage recording (UsageRecorder), audit events (PresetAudit) and the one alarm (Alarms).
 * Requests go to McpDispatch. Storage layout and migrations: storage.ts.
 */

import { DurableObject } from "cloudflare:workers";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { type CallerIdentity, CredentialsRequired, callerCredentials, needsCallerCredentials } from "../credentials/caller-credentials";
import { PresetNotifications } from "../items/notifications";
import { PresetItems } from "../items/preset-items";
import type { McpCall, McpReply, PresetRef } from "../mcp/contract";
import { type ItemPick, PinBoard, type PinEvent } from "../pinning/pin-board";
import { BreakerBoard, type UpstreamHealth } from "../policy/breaker-board";
import { callerKey } from "../policy/caller-key";
import { RateLimits, sqlHitStore } from "../policy/rate-limits";
import type { Bindings } from "../shared/bindings";
import { AskRefused, SessionStreams } from "../streaming/session-streams";
import { CatalogAudit } from "../tools/catalog-audit";
import { CatalogCache } from "../tools/catalog-cache";
import { ToolBindings } from "../tools/tool-bindings";
import { UpstreamPool } from "../upstream/pool";
import { isGatewayCaller, type UpstreamCaller } from "../upstream/session-scope";
import { UsageRecorder } from "../usage/recorder";
import { Admission, type Entrant } from "./admission";
import { Alarms, UPSTREAM_IDLE_MS } from "./alarms";
import { AlertDetectors } from "./alert-detectors";
import { PresetAudit } from "./audit";
import { loadPresetConfig, type PresetConfig, type PresetServer } from "./config";
import { ConfigCache } from "./config-cache";
import { McpDispatch } from "./dispatch";
import { SessionStore } from "./session-store";
import { KV_PREFIX, kvSlice, openStorage } from "./storage";

export class PresetGateway extends DurableObject<Bindings> {
  readonly #config: ConfigCache;
  readonly #admission: Admission;
  readonly #dispatch: McpDispatch;
  readonly #pool: UpstreamPool;
  readonly #streams: SessionStreams;
  readonly #limits: RateLimits;
  readonly #breakers: BreakerBoard;
  readonly #usage: UsageRecorder;
  readonly #audit: PresetAudit;
  readonly #alarms: Alarms;
  readonly #catalog: CatalogCache;
  readonly #notifications: PresetNotifications;
  readonly #sessions: SessionStore;
  readonly #pins: PinBoard;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    // SQLite is synchronous, so the storage is migrated when this returns; a migration that throws
    // makes blockConcurrencyWhile reset the object, and the next request tries again.
    void ctx.blockConcurrencyWhile(async () => {
      openStorage(ctx.storage);
    });
    const sql = ctx.storage.sql;
    const sessions = new SessionStore(sql, {
      onEnded: (id) => void this.#dispatch.sessionEnded(id),
      inUse: (id) => this.#streams.isListening(id),
    });
    this.#alarms = new Alarms(ctx.storage);
    this.#audit = new PresetAudit(
      () => this.env.DB,
      () => this.#config.current,
      () => this.env.WEBHOOKS,
    );
    const alerts = new AlertDetectors(this.#audit, () => this.#config.current, kvSlice(ctx.storage, KV_PREFIX.unreachable));
    // Hits are SQLite rows written as they are counted: a reply waits for the hit it counted (see RateLimits).
    this.#limits = new RateLimits(sqlHitStore(sql));
    this.#breakers = new BreakerBoard(kvSlice(ctx.storage, KV_PREFIX.breakers), (serverId, state, lastError) =>
      this.#audit.breakerChanged(serverId, state, lastError),
    );
    this.#streams = new SessionStreams(sql);
    let notifications!: PresetNotifications;
    this.#pool = new UpstreamPool(sql, this.#breakers, {
      allowInsecure: env.ALLOW_INSECURE_UPSTREAMS === "true",
      onToolsChanged: () => this.#listsChanged(),
      onResourceUpdated: (server, uri, caller) => notifications.resourceUpdated(server, uri, caller),
      onConnected: (server, key) => notifications.resubscribe(server, key),
      onLog: (server, params) => this.#streams.broadcastLog(server.name, params),
      onOutcome: (server, failure) => alerts.upstreamOutcome(server, failure),
      // Each consumer's own upstream credentials (credentials/caller-credentials.ts); the gateway's own requests use the owner's.
      ownCredentials: (server) => needsCallerCredentials(server),
      identify: (server, caller) => this.#identify(server, caller),
      // What an upstream asks outside any call goes to the client that owns its session (per-caller, per-session scopes).
      askSession: (_server, sessionId, method, params) =>
        this.#streams.ask(sessionId, method, params).catch((e: unknown) => {
          throw e instanceof AskRefused ? new McpError(e.code, e.message) : e;
        }),
    });
    const catalogAudit = new CatalogAudit(sql, (config, type, target, payload) => this.#audit.write(config, type, target, payload));
    this.#pins = new PinBoard(sql, {
      report: (config, event) => this.#pinEvent(config, event, catalogAudit),
      changed: () => this.#listsChanged(),
    });
    const items = new PresetItems(this.#pool, { audit: catalogAudit, pins: this.#pins });
    const catalog = new CatalogCache(this.#pool, { audit: catalogAudit, bindings: new ToolBindings(sql), pins: this.#pins });
    this.#config = new ConfigCache(
      (ref) => loadPresetConfig(this.env, ref.handle, ref.slug),
      (config, previous) => {
        this.#pool.retain(config?.servers ?? []);
        if (config) this.#pins.retain(config);
        if (config && previous?.id !== config.id) sessions.retainPreset(config.id);
        // Who may listen may have changed (members, visibility, status): decide again for every listener.
        this.#streams.review();
        this.#listsChanged();
      },
    );
    notifications = new PresetNotifications({ streams: this.#streams, items, pool: this.#pool, catalog, config: () => this.#config.latest() });
    this.#catalog = catalog;
    this.#sessions = sessions;
    this.#notifications = notifications;
    this.#admission = new Admission(this.#config, sessions, kvSlice(ctx.storage, KV_PREFIX.revokedGrants, { allowUnconfirmed: false }));
    this.#streams.judgeWith({
      verdict: (listener) => this.#admission.listenerVerdict(listener),
      hearsUpstreamLogs: (listener) => this.#admission.entitledToUpstreamLogs(listener.userId),
      endSession: (id) => sessions.end(id),
    });
    this.#usage = new UsageRecorder(sql, { db: () => this.env.DB, metrics: () => this.env.METRICS, scheduleAlarm: (at) => this.#alarms.schedule(at) });
    this.#dispatch = new McpDispatch({
      admission: this.#admission,
      config: this.#config,
      sessions,
      limits: this.#limits,
      pool: this.#pool,
      catalog,
      items,
      notifications,
      streams: this.#streams,
      usage: this.#usage,
      audit: this.#audit,
      alarms: this.#alarms,
      alerts,
    });
  }

  /** The headers a caller's own credentials add on an upstream's requests; CredentialsRequired when they have none. */
  async #identify(server: PresetServer, caller: UpstreamCaller): Promise<CallerIdentity> {
    const config = this.#config.current;
    if (!config) throw new CredentialsRequired(server.name, null, `Upstream '${server.name}' needs your own credentials.`);
    const userId = isGatewayCaller(caller) ? config.ownerId : caller.userId;
    // The connect page is named by the origin the caller's request reached (PUBLIC_URL when set).
    const origin = this.env.PUBLIC_URL?.replace(/\/+$/, "") || caller.origin || "";
    return callerCredentials(this.env, server, userId, { origin, handle: config.handle, slug: config.slug });
  }

  /** A POST to the preset's MCP endpoint. */
  async mcp(call: McpCall): Promise<McpReply> {
    return this.#dispatch.mcp(call);
  }

  /** DELETE of the MCP endpoint: ends the caller's session. */
  async endSession(call: Entrant & { sessionId: string }): Promise<McpReply> {
    return this.#dispatch.endSession(call);
  }

  /** GET of the MCP endpoint: the session's standalone SSE stream, or a stream resumed with Last-Event-ID. */
  async listen(call: Entrant & { sessionId: string; lastEventId: string | null }): Promise<McpReply> {
    return this.#dispatch.listen(call);
  }

  /** Called by the management API after it changed this preset (or a server it uses) in D1. */
  async invalidate(_ref: PresetRef): Promise<void> {
    this.#config.invalidate();
    this.#listsChanged();
    // Access may have changed: the reload decides again for every listener before the API answers.
    if (this.#streams.hasListeners) await this.#config.latest().catch((e: unknown) => console.error("preset reload failed", e));
  }

  /** Refuses access tokens of these grants from now on (until their tokens would have expired); closes their streams. */
  async revokeGrants(grantIds: string[], until: number): Promise<void> {
    await this.#admission.revokeGrants(grantIds, until);
    this.#streams.review();
  }

  /** One of this user's API tokens was revoked: its standalone streams opened with an API token close (resuming needs a valid credential). */
  /** A user's own credentials for a server changed: what was resolved for them, and their upstream sessions of it, go. */
  async credentialsChanged(serverId: string, userId: string): Promise<void> {
    this.#pool.forgetCaller(serverId, userId);
  }

  async apiTokenRevoked(userId: string): Promise<void> {
    this.#streams.disconnectTokenListeners(userId);
  }

  /** Health of each upstream by server id, for the management API. */
  async health(serverIds: string[]): Promise<Record<string, UpstreamHealth>> {
    const now = Date.now();
    return Object.fromEntries(serverIds.map((id) => [id, this.#breakers.health(id, now)]));
  }

  /**
   * Audits a credential the worker refused before this object saw the request (a bad or expired
   * token), with the same cap as the object's own refusals: one auth.failed per caller per minute.
   * Call it off the response path (waitUntil); it never throws.
   */
  async recordAuthFailure(
    failure: PresetRef & { userId: string | null; ip: string | null; status: number; method: string | null; message: string },
  ): Promise<void> {
    try {
      const config = await this.#config.get(failure);
      if (config) this.#audit.authFailed(config, callerKey(failure.userId, failure.ip), failure.status, failure.method, failure.message.slice(0, 200));
    } catch (e) {
      console.error("auth failure not recorded", e);
    }
  }

  /** Sends this preset's pending usage rollups to D1 now, so stats read right after see every call. */
  async flushUsage(): Promise<void> {
    await this.#usage.flush();
  }

  /**
   * Every job that asked for the alarm: forgets idle rate-limit counters and audit throttles,
   * ends expired sessions, re-reads a stale configuration while clients listen (access is then
   * decided again), closes upstream sessions idle for UPSTREAM_IDLE_MS, and flushes usage rollups to D1; each job
   * asks for the alarm again while it has work left.
   */
  override async alarm(): Promise<void> {
    this.#alarms.fired();
    const now = Date.now();
    this.#limits.prune(now);
    this.#audit.prune(now);
    this.#sessions.expire(now);
    // A safety net for a lost invalidation: a stale configuration is reloaded, and the reload decides again for every listener.
    if (this.#streams.hasListeners) await this.#config.latest().catch((e: unknown) => console.error("preset revalidation failed", e));
    // Not while a client listens on a standalone stream: the upstream sessions carry what it waits for.
    if (this.#streams.listening || this.#pool.closeIfIdle(now, UPSTREAM_IDLE_MS)) this.#alarms.scheduleSweep();
    await this.#usage.flush();
  }

  /** Audits (and alerts) what pinning noticed in an upstream's list. */
  #pinEvent(config: PresetConfig, event: PinEvent, catalogAudit: CatalogAudit): void {
    const target = `${event.server}/${event.name}`;
    if (event.type === "tool.removed") {
      // Throttled per server and item: a prompt and a tool of one name are two items.
      catalogAudit.note(config, "tool.removed", event.server, event.kind === "tool" ? event.name : `${event.kind}:${event.name}`, {
        kind: event.kind,
        item: event.name,
      });
      return;
    }
    const { type, ...fields } = event;
    const payload = { ...fields, review: `/api/v1/presets/${config.slug}/drift` };
    if (type === "tool.drifted" || event.held) this.#audit.alert(config, type, target, payload);
    else this.#audit.write(config, type, target, payload);
  }

  /**
   * The items held for the owner's review (GET /presets/:slug/drift) as the JSON of HeldItem[];
   * null when there is no such preset. JSON text, because definitions are JSON of any depth.
   */
  async drift(ref: PresetRef): Promise<string | null> {
    const config = await this.#config.get(ref);
    return config ? JSON.stringify(this.#pins.list(config)) : null;
  }

  /**
   * Approves (pins and serves) or rejects (keeps held, stops alerting) held items; null picks: all.
   * Nothing changes when a pick names an item that is not held (`unknown`).
   */
  async reviewDrift(ref: PresetRef, action: "approve" | "reject", picks: ItemPick[] | null): Promise<{ items: string; unknown: ItemPick[] } | null> {
    const config = await this.#config.get(ref);
    if (!config) return null;
    const result = action === "approve" ? this.#pins.approve(config, picks) : this.#pins.reject(config, picks);
    if (action === "approve" && result.unknown.length === 0 && result.items.length > 0) this.#listsChanged();
    return { items: JSON.stringify(result.items), unknown: result.unknown };
  }

  /** The preset or an upstream's lists changed: rebuild the catalog and tell listening clients what differs. */
  #listsChanged(): void {
    this.#catalog.reset();
    this.#notifications.listsMayHaveChanged();
  }
}
