import { DurableObject } from "cloudflare:workers";
import { decideAccess } from "../policy/access";
import { AuditThrottle } from "../policy/audit-throttle";
import { BreakerBoard, type UpstreamHealth } from "../policy/breaker-board";
import { CallRelay, type RelayHost } from "../tools/call-relay";
import type { BreakerState } from "../policy/breaker";
import { outcomeOfFailure, outcomeOfResult, type ToolCallFacts, toolCallRecord, UNRESOLVED_TOOL } from "../usage/call-record";
import { resolveToolName } from "../tools/catalog";
import { type EventType, insertEvent } from "../db/events-repository";
import { getDb } from "../db/client";
import { Deadline } from "../upstream/deadline";
import type { Bindings } from "../shared/bindings";
import type { MetricsWriter } from "../usage/metrics";
import { errorMessageOf, isNotification, isRequest, RpcCode, type RpcMessage, type RpcRequest, type RpcResponse, rpcErrorBody, rpcResultBody } from "../mcp/jsonrpc";
import type { McpCall, McpReply, PresetRef } from "../mcp/contract";
import { allowsBatches, isLogLevel, LOG_LEVELS, negotiateVersion, supportsSsePolling } from "../mcp/protocol";
import { type Session, SessionStore, sessionOwner } from "./session-store";
import { loadPresetConfig, type PresetConfig } from "./config";
import { callerKey } from "../policy/caller-key";
import { PresetLimits } from "../policy/rate-limits";
import { type FailureKind, UpstreamFailure, UpstreamRpcError } from "../upstream/client";
import { UpstreamPool } from "../upstream/pool";
import { ITEM_METHODS, PresetItems } from "../items/preset-items";
import { PresetCatalog } from "../tools/catalog-cache";
import { PresetNotifications } from "../items/notifications";
import { PresetStreams } from "../streaming/session-streams";
import { UsageRecorder } from "../usage/recorder";
import { GATEWAY_VERSION } from "../shared/version";

/** The reply to one message of a POST. */
interface Handled {
  body: string | null;
  status?: number;
  headers?: Record<string, string>;
}

/** The DO re-reads its preset from D1 this often even without an invalidation (belt and braces). */
const CONFIG_REVALIDATE_MS = 60_000;
/** Upstream sessions unused this long are closed by the alarm (they reopen on the next call). */
export const UPSTREAM_IDLE_MS = 5 * 60_000;
/** However much progress an upstream reports, a tools/call ends after this long. */
export const MAX_CALL_MS = 15 * 60_000;

const FAILURE_CODES: Record<FailureKind, number> = {
  unreachable: RpcCode.UpstreamUnavailable,
  http_error: RpcCode.UpstreamUnavailable,
  session_lost: RpcCode.UpstreamUnavailable,
  blocked: RpcCode.UpstreamUnavailable,
  timeout: RpcCode.UpstreamTimeout,
  bad_response: RpcCode.UpstreamBadResponse,
  breaker_open: RpcCode.BreakerOpen,
  cancelled: RpcCode.RequestCancelled,
};

const REVOKED_GRANT_PREFIX = "rg:";

const BREAKER_EVENTS: Record<BreakerState, EventType> = { open: "breaker.opened", half_open: "breaker.half_open", closed: "breaker.closed" };

const reply = (status: number, body: McpReply["body"], headers?: Record<string, string>): McpReply => ({ status, body, headers });
const errorReply = (status: number, id: RpcMessage | undefined, code: number, message: string) =>
  reply(status, rpcErrorBody(id && "id" in id ? id.id : null, code, message));

/**
 * One Durable Object per preset (named `<handle>/<slug>`). It sees every MCP request of its
 * preset: it holds the preset's configuration (invalidated by the API on every change), the MCP
 * sessions of its clients (in SQLite), exact per-caller rate limits, a circuit breaker and one
 * upstream MCP session per server, and the tool catalog.
 */
export class PresetGateway extends DurableObject<Bindings> {
  readonly #sessions: SessionStore;
  readonly #pool: UpstreamPool;
  readonly #items: PresetItems;
  readonly #streams: PresetStreams;
  readonly #notifications: PresetNotifications;
  /** The preset this object serves, once known (list-change checks reload its config by it). */
  #lastRef: PresetRef | null = null;
  #progressSeq = 0;
  readonly #limits: PresetLimits;
  readonly #breakers: BreakerBoard;
  #config: PresetConfig | null | undefined;
  #configLoadedAt = 0;
  #configGeneration = 0;
  #configLoad: Promise<PresetConfig | null> | undefined;
  readonly #catalog: PresetCatalog;
  /** Calls in flight by `<session>:<request id>`, so a client's notifications/cancelled can abort them. */
  readonly #inflight = new Map<string, AbortController>();
  readonly #usage: UsageRecorder;
  /** At most one auth.failed event per caller per minute. */
  readonly #authFailures = new AuditThrottle(60_000);
  /** When the alarm is set to run (it does every due job: upstream sweep, usage flush). */
  #alarmAt: number | null = null;
  /** Revoked OAuth grants, until their access tokens would have expired anyway. */
  readonly #revokedGrants = new Map<string, number>();

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.#sessions = new SessionStore(ctx.storage.sql);
    const load = (prefix: string) => new Map(ctx.storage.kv.list({ prefix }));
    for (const [key, until] of load(REVOKED_GRANT_PREFIX)) this.#revokedGrants.set(key.slice(REVOKED_GRANT_PREFIX.length), Number(until));
    this.#limits = new PresetLimits(ctx.storage, load(PresetLimits.storagePrefix));
    this.#breakers = new BreakerBoard(ctx.storage, load(BreakerBoard.storagePrefix), (serverId, state, lastError) =>
      this.#auditBreaker(serverId, state, lastError),
    );
    this.#streams = new PresetStreams(ctx.storage.sql);
    this.#pool = new UpstreamPool(ctx.storage.sql, this.#breakers, {
      allowInsecure: env.ALLOW_INSECURE_UPSTREAMS === "true",
      onToolsChanged: () => this.#resetCatalog(),
      onResourceUpdated: (server, uri) => this.#notifications.resourceUpdated(server, uri),
      onConnected: (server) => this.#notifications.resubscribe(server),
      onLog: (server, params) => this.#streams.broadcastLog(server.name, params),
    });
    this.#items = new PresetItems(this.#pool);
    this.#catalog = new PresetCatalog(this.#pool);
    this.#notifications = new PresetNotifications({
      streams: this.#streams,
      items: this.#items,
      pool: this.#pool,
      catalog: this.#catalog,
      config: () => (this.#lastRef ? this.#loadConfig(this.#lastRef) : Promise.resolve(null)),
    });
    this.#usage = new UsageRecorder(ctx.storage.sql, {
      db: () => this.env.DB,
      metrics: () => this.env.METRICS,
      scheduleAlarm: (at) => this.#scheduleAlarm(at),
    });
  }

  /** Called by the management API after it changed this preset (or a server it uses) in D1. */
  async invalidate(_ref: PresetRef): Promise<void> {
    this.#configGeneration++;
    this.#config = undefined;
    this.#configLoad = undefined;
    this.#resetCatalog();
  }

  /**
   * Refuses access tokens of these grants from now on. Tokens are verified at the edge without a
   * storage read, so revocation reaches them here, in the object that sees every request.
   */
  async revokeGrants(grantIds: string[], until: number): Promise<void> {
    for (const id of grantIds) {
      this.#revokedGrants.set(id, until);
      this.ctx.storage.kv.put(REVOKED_GRANT_PREFIX + id, until);
    }
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
  async recordAuthFailure(failure: PresetRef & { userId: string | null; ip: string | null; status: number; method: string | null; message: string }): Promise<void> {
    try {
      const config = await this.#loadConfig(failure);
      if (config) this.#auditAuthFailure(config, callerKey(failure.userId, failure.ip), failure.status, failure.method, failure.message.slice(0, 200));
    } catch (e) {
      console.error("auth failure not recorded", e);
    }
  }

  /** Sends this preset's pending usage rollups to D1 now, so stats read right after see every call. */
  async flushUsage(): Promise<void> {
    await this.#usage.flush();
  }

  async mcp(call: McpCall): Promise<McpReply> {
    const first = call.messages[0];
    const metrics = this.#usage.metricsWriter();
    try {
      const gate = await this.#admit(call, first);
      const caller = callerKey(call.userId, call.ip);
      if ("status" in gate) return this.#turnedAway(call, caller, gate, metrics);
      const { config } = gate;
      if (first && isRequest(first) && first.method === "initialize") {
        const limited = this.#limits.takeControl(caller, config.rateLimit, Date.now());
        if (!limited.allowed) return this.#refuse(config, caller, first, limited);
        return { ...(await this.#initialize(config, call, first)), headers: limited.headers };
      }

      const session = call.sessionId ? this.#ownSession(call.sessionId, call.userId, config) : null;
      if (!session) {
        return errorReply(404, first, RpcCode.SessionNotFound, "Session not found: initialize a new session.");
      }
      if (call.batch && !allowsBatches(session.protocolVersion)) {
        return errorReply(400, undefined, RpcCode.InvalidRequest, `JSON-RPC batches are not supported in protocol version ${session.protocolVersion}.`);
      }
      if (!call.batch && first && isRequest(first) && first.method === "tools/call") {
        const answer = await this.#streamableCall(config, session, caller, first, metrics, call);
        if (this.#pool.connected) this.#scheduleSweep();
        return answer;
      }
      const handled = await Promise.all(call.messages.map((m) => this.#handle(config, session, caller, m, metrics)));
      if (this.#pool.connected) this.#scheduleSweep();
      const headers = Object.assign({}, ...handled.map((h) => h.headers ?? {}));
      const bodies = handled.map((h) => h.body).filter((b) => b !== null);
      if (bodies.length === 0) return reply(202, null, headers);
      if (call.batch) return reply(200, `[${bodies.join(",")}]`, headers);
      return reply(handled[0]?.status ?? 200, bodies[0]!, headers);
    } catch (e) {
      console.error("preset gateway failed", call.handle, call.slug, e);
      return errorReply(500, first, RpcCode.InternalError, "Internal error.");
    }
  }

  /**
   * A tools/call alone in its POST: answered with JSON, unless it needs to relay something before
   * its answer; then with an SSE stream as soon as that opens (the call goes on behind it).
   */
  async #streamableCall(config: PresetConfig, session: Session, caller: string, req: RpcRequest, metrics: MetricsWriter, ref: PresetRef): Promise<McpReply> {
    let streamed!: (r: McpReply) => void;
    let streaming = false;
    const opened = new Promise<McpReply>((resolve) => {
      streamed = (r) => {
        streaming = true;
        resolve(r);
      };
    });
    const work = this.#handle(config, session, caller, req, metrics, streamed).then((h) => reply(h.status ?? 200, h.body, h.headers));
    // Once the stream is out, a failure ends it (CallRelay.finish) and must not surface here.
    work.catch((e: unknown) => {
      if (streaming) console.error("streamed tool call failed", ref.handle, ref.slug, e);
    });
    return Promise.race([work, opened]);
  }

  /** DELETE of the MCP endpoint: ends the caller's session. */
  async endSession(call: PresetRef & { userId: string | null; grantId?: string | null; sessionId: string }): Promise<McpReply> {
    const gate = await this.#admit(call, undefined);
    if ("status" in gate) return gate;
    const session = this.#ownSession(call.sessionId, call.userId, gate.config);
    if (!session) {
      return errorReply(404, undefined, RpcCode.SessionNotFound, "Session not found.");
    }
    this.#sessions.delete(session.id);
    // Its calls in flight end (cancelled upstream): nobody can answer what they wait for any more.
    for (const [key, controller] of this.#inflight) {
      if (key.startsWith(`${session.id}:`)) controller.abort(new DOMException("the session ended", "AbortError"));
    }
    await this.#notifications.dropSubscriptions(gate.config, session);
    this.#streams.endSession(session.id);
    return reply(204, null);
  }

  /**
   * GET of the MCP endpoint: the session's standalone SSE stream (list_changed, resources/updated),
   * or, with Last-Event-ID, any of its streams resumed after that event.
   */
  async listen(call: PresetRef & { userId: string | null; grantId?: string | null; sessionId: string; lastEventId: string | null }): Promise<McpReply> {
    const gate = await this.#admit(call, undefined);
    if ("status" in gate) return gate;
    const session = this.#ownSession(call.sessionId, call.userId, gate.config);
    if (!session) {
      return errorReply(404, undefined, RpcCode.SessionNotFound, "Session not found: initialize a new session.");
    }
    const fresh = !this.#streams.hasListeners;
    const result = this.#streams.listen(session, call.lastEventId);
    // The first listener: note what the lists are now, so a change can be told apart from no change.
    if (fresh && result.status === 200) this.#notifications.listsMayHaveChanged(true);
    if (this.#pool.connected) this.#scheduleSweep();
    return reply(result.status, result.body);
  }

  /**
   * Closes idle upstream sessions, forgets idle rate-limit counters and audit throttles, and
   * flushes usage rollups to D1; each job reschedules the alarm while it has work left.
   */
  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    const now = Date.now();
    this.#limits.prune(now);
    this.#authFailures.prune(now);
    this.sweepUpstreams();
    await this.#usage.flush();
  }

  /**
   * Closes the upstream sessions if they were idle for UPSTREAM_IDLE_MS as of `now`. Not while a
   * client listens on a standalone stream: the upstream sessions carry the notifications it waits for.
   */
  sweepUpstreams(now = Date.now()): void {
    if (this.#streams.listening || this.#pool.closeIfIdle(now, UPSTREAM_IDLE_MS)) this.#scheduleSweep();
  }

  /** The session, if it is live, of this preset, and opened by this caller. */
  #ownSession(sessionId: string, userId: string | null, config: PresetConfig): Session | null {
    const session = this.#sessions.get(sessionId);
    return session && session.principal === sessionOwner(userId) && session.presetId === config.id ? session : null;
  }

  #grantRevoked(grantId: string): boolean {
    const until = this.#revokedGrants.get(grantId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#revokedGrants.delete(grantId);
    this.ctx.storage.kv.delete(REVOKED_GRANT_PREFIX + grantId);
    return false;
  }

  #scheduleSweep(): void {
    this.#scheduleAlarm(Date.now() + UPSTREAM_IDLE_MS);
  }

  /** One alarm serves every job: it is set for the earliest time any of them asked for. */
  #scheduleAlarm(at: number): void {
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    this.ctx.storage.setAlarm(at).catch((e) => {
      if (this.#alarmAt === at) this.#alarmAt = null;
      console.error("could not schedule the alarm", e);
    });
  }

  /** The preset exists, is active, and the caller may use it. */
  async #admit(call: PresetRef & { userId: string | null; grantId?: string | null }, first: RpcMessage | undefined): Promise<{ config: PresetConfig } | McpReply> {
    if (call.grantId && this.#grantRevoked(call.grantId)) return errorReply(401, first, RpcCode.Unauthorized, "The access token's grant was revoked.");
    const config = await this.#loadConfig(call);
    if (!config || config.status !== "active") return errorReply(404, first, RpcCode.PresetNotFound, "No preset at this URL.");
    const access = decideAccess(config, call.userId);
    if (access === "unauthenticated") return errorReply(401, first, RpcCode.Unauthorized, "This preset needs a bearer token.");
    if (access === "forbidden") return errorReply(403, first, RpcCode.Unauthorized, "Your token does not give access to this preset.");
    return { config };
  }

  #refuse(config: PresetConfig, caller: string, req: RpcRequest, limited: ReturnType<PresetLimits["takeControl"]>): McpReply & Handled {
    if (limited.audit) this.#audit(config, "rate_limit.refused", caller, { caller, method: req.method, message: limited.message });
    return {
      status: 429,
      body: rpcErrorBody(req.id, RpcCode.RateLimited, limited.message!, { retryAfterSeconds: limited.retryAfterSeconds }),
      headers: limited.headers,
    };
  }

  async #initialize(config: PresetConfig, call: McpCall, req: RpcRequest): Promise<McpReply> {
    const params = req.params ?? {};
    if (typeof params.protocolVersion !== "string") {
      return reply(400, rpcErrorBody(req.id, RpcCode.InvalidParams, "initialize needs params.protocolVersion (a string)."));
    }
    const clientInfo = params.clientInfo as { name?: unknown } | undefined;
    const capabilities = params.capabilities;
    const protocolVersion = negotiateVersion(params.protocolVersion);
    const session = this.#sessions.create({
      presetId: config.id,
      principal: sessionOwner(call.userId),
      protocolVersion,
      clientName: typeof clientInfo?.name === "string" ? clientInfo.name.slice(0, 200) : null,
      clientCapabilities: capabilities && typeof capabilities === "object" && !Array.isArray(capabilities) ? (capabilities as Record<string, unknown>) : {},
    });
    for (const server of config.servers) this.#pool.warm(server);
    if (config.servers.length > 0) this.#scheduleSweep();
    // Capabilities follow the upstreams': known from earlier sessions, else learned by connecting.
    const { capabilities: declared, instructions } = await this.#items.describe(config);
    const result = {
      protocolVersion,
      capabilities: declared,
      serverInfo: { name: `${config.handle}/${config.slug}`, title: config.name, version: GATEWAY_VERSION },
      ...(instructions ? { instructions } : {}),
    };
    return { status: 200, body: rpcResultBody(req.id, result), sessionId: session.id };
  }

  async #handle(
    config: PresetConfig,
    session: Session,
    caller: string,
    message: RpcMessage,
    metrics: MetricsWriter,
    stream?: (reply: McpReply) => void,
  ): Promise<Handled> {
    const now = Date.now();
    if (!isRequest(message)) {
      if (isNotification(message) && message.method === "notifications/cancelled") this.#cancel(session, message.params);
      else if (!isNotification(message)) this.#streams.answer(session, message as RpcResponse);
      // Notifications and responses are accepted and need no reply.
      return { body: null, headers: this.#limits.peekControl(caller, config.rateLimit, now) };
    }
    if (message.method === "tools/call") return this.#callTool(config, session, caller, message, metrics, stream);
    // Reading a resource or getting a prompt is a call, like tools/call; the rest is control traffic.
    const counted = message.method === "resources/read" || message.method === "prompts/get";
    const limited = counted
      ? this.#limits.takeCall(caller, message.method, config.rateLimit, undefined, now)
      : this.#limits.takeControl(caller, config.rateLimit, now);
    if (!limited.allowed) return this.#refuse(config, caller, message, limited);
    const answer = async (): Promise<string> => {
      switch (message.method) {
        case "ping":
          return rpcResultBody(message.id, {});
        case "tools/list":
          return this.#catalog.list(config, message);
        case "initialize":
          return rpcErrorBody(message.id, RpcCode.InvalidRequest, "The session is already initialized.");
        case "logging/setLevel": {
          const level = message.params?.level;
          if (!isLogLevel(level)) return rpcErrorBody(message.id, RpcCode.InvalidParams, `params.level must be one of ${LOG_LEVELS.join(", ")}.`);
          const upstreamLevel = this.#streams.setLogLevel(session.id, level);
          return this.#items.answer(config, { ...message, params: { ...message.params, level: upstreamLevel } });
        }
        case "resources/subscribe":
        case "resources/unsubscribe":
          return this.#notifications.subscription(config, session, message);
        default:
          if (ITEM_METHODS.has(message.method)) return this.#items.answer(config, message);
          return rpcErrorBody(message.id, RpcCode.MethodNotFound, `Method not found: ${message.method}`);
      }
    };
    return { body: await answer(), headers: limited.headers };
  }

  /** A client's notifications/cancelled: aborts its call in flight, which cancels it upstream. */
  #cancel(session: Session, params: Record<string, unknown> | undefined): void {
    const requestId = params?.requestId;
    if (typeof requestId !== "string" && typeof requestId !== "number") return;
    this.#inflight.get(`${session.id}:${JSON.stringify(requestId)}`)?.abort(new DOMException("cancelled by the client", "AbortError"));
  }

  /** tools/call: runs it, then records it (metrics, rollup, call log) however it ended. */
  async #callTool(
    config: PresetConfig,
    session: Session,
    caller: string,
    req: RpcRequest,
    metrics: MetricsWriter,
    stream?: (reply: McpReply) => void,
  ): Promise<Handled> {
    const at = Date.now();
    const facts: ToolCallFacts = { tool: UNRESOLVED_TOOL, upstream: null, outcome: "upstream_error" };
    let handled: Handled | undefined;
    try {
      handled = await this.#runTool(config, session, caller, req, facts, stream);
      return handled;
    } finally {
      this.#record(config, caller, req, facts, handled?.body ?? null, at, metrics);
    }
  }

  /**
   * Runs a tools/call, noting in `facts` which tool and upstream it reached and how it ended. With
   * `stream`, what the upstream sends before its answer is relayed (see CallRelay): the reply turns
   * into an SSE stream, handed to `stream` as soon as it opens, and the answer ends it.
   */
  async #runTool(
    config: PresetConfig,
    session: Session,
    caller: string,
    req: RpcRequest,
    facts: ToolCallFacts,
    stream?: (reply: McpReply) => void,
  ): Promise<Handled> {
    const params = req.params ?? {};
    facts.outcome = "denied";
    if (typeof params.name !== "string") return { body: rpcErrorBody(req.id, RpcCode.InvalidParams, "tools/call needs params.name (a string).") };
    const args = params.arguments;
    if (args !== undefined && (args === null || typeof args !== "object" || Array.isArray(args))) {
      return { body: rpcErrorBody(req.id, RpcCode.InvalidParams, "params.arguments must be an object.") };
    }
    const target = resolveToolName(params.name, config.servers) ?? (await this.#catalog.route(config, params.name));
    if (!target) return { body: rpcErrorBody(req.id, RpcCode.InvalidParams, `Unknown tool: ${params.name}`) };
    facts.tool = params.name;
    facts.upstream = target.server.name;

    const limited = this.#limits.takeCall(caller, params.name, config.rateLimit, config.toolLimits[params.name], Date.now());
    if (!limited.allowed) {
      facts.outcome = "rate_limited";
      return this.#refuse(config, caller, req, limited);
    }

    const key = `${session.id}:${JSON.stringify(req.id)}`;
    const controller = new AbortController();
    this.#inflight.set(key, controller);
    facts.outcome = "upstream_error";
    const server = target.server;
    const upstreamParams: Record<string, unknown> = { ...params, name: target.upstreamName };
    const { progressToken: clientToken, ...meta } = (params._meta ?? {}) as Record<string, unknown>;
    const progressToken =
      stream && (typeof clientToken === "string" || typeof clientToken === "number")
        ? { client: clientToken, upstream: `mcpgate-p${++this.#progressSeq}` }
        : undefined;
    if (params._meta !== undefined) upstreamParams._meta = progressToken ? { ...meta, progressToken: progressToken.upstream } : meta;
    const deadline = new Deadline(server.timeoutMs, MAX_CALL_MS);
    let callStream: ReturnType<PresetStreams["openCallStream"]> | null = null;
    const host: RelayHost = {
      openStream: () => (callStream = this.#streams.openCallStream(session, req.id)),
      registerRequest: (relay) => this.#streams.registerRequest(session.id, relay),
      forgetRequest: (id) => this.#streams.forgetRequest(id),
      respondUpstream: (message) => {
        this.#pool.respond(server, message as Parameters<UpstreamPool["respond"]>[1]).catch(() => {});
      },
      wantsLog: (level) => !!stream && this.#streams.wantsLog(session.id, level),
      onOtherNotification: (m) => this.#notifications.upstreamNotification(server, m),
    };
    const relay = new CallRelay(host, {
      capabilities: stream ? session.clientCapabilities : {},
      progressToken,
      deadline,
      polling: !!stream && supportsSsePolling(session.protocolVersion),
    });
    if (stream) void relay.opened.then((body) => stream({ status: 200, body, headers: limited.headers }));
    let handled: Handled | undefined;
    try {
      handled = await this.#upstreamTool(server, req, upstreamParams, facts, controller.signal, relay, deadline, limited.headers);
      return handled;
    } finally {
      deadline.clear();
      if (this.#inflight.get(key) === controller) this.#inflight.delete(key);
      relay.finish(handled?.body ?? rpcErrorBody(req.id, RpcCode.InternalError, "Internal error."));
      if (callStream) this.#streams.closeCallStream(callStream);
    }
  }

  /** The upstream part of a tools/call: its answer, or the error that stands for its failure. */
  async #upstreamTool(
    server: PresetConfig["servers"][number],
    req: RpcRequest,
    params: Record<string, unknown>,
    facts: ToolCallFacts,
    signal: AbortSignal,
    relay: CallRelay,
    deadline: Deadline,
    headers: Record<string, string> | undefined,
  ): Promise<Handled & { body: string }> {
    try {
      const result = await this.#pool.request(server, "tools/call", params, server.timeoutMs, signal, {
        deadline,
        onMessage: (m) => relay.onMessage(m),
        onPause: () => relay.onPause(),
      });
      facts.outcome = outcomeOfResult(result);
      return { body: rpcResultBody(req.id, result), headers };
    } catch (e) {
      if (e instanceof UpstreamRpcError) {
        facts.outcome = "tool_error";
        return { body: rpcErrorBody(req.id, e.code, e.message, e.data), headers };
      }
      if (e instanceof UpstreamFailure) {
        facts.outcome = outcomeOfFailure(e.kind);
        const data: Record<string, unknown> = { upstream: e.upstream, reason: e.kind };
        if (e.kind === "breaker_open" && e.detail) data.retryAt = new Date(e.detail).toISOString();
        return { body: rpcErrorBody(req.id, FAILURE_CODES[e.kind], e.message, data), headers };
      }
      throw e;
    }
  }

  /** Records one tools/call for metrics, rollups and the call log. Never throws. */
  #record(config: PresetConfig, caller: string, req: RpcRequest, facts: ToolCallFacts, body: string | null, at: number, metrics: MetricsWriter): void {
    try {
      const record = toolCallRecord(config, caller, req, facts, body, at, Date.now());
      this.#usage.record(record, metrics, { calls: config.auditCalls, arguments: config.auditArguments });
    } catch (e) {
      console.error("tool call not recorded", e);
    }
  }

  /**
   * A request refused at the door. Refused credentials (401, 403) are audited as `auth.failed`,
   * at most once per caller per minute, and refused tool calls are counted as `denied`.
   */
  #turnedAway(call: McpCall, caller: string, refusal: McpReply, metrics: MetricsWriter): McpReply {
    const config = this.#config;
    if (!config || (refusal.status !== 401 && refusal.status !== 403)) return refusal;
    const first = call.messages[0];
    const body = typeof refusal.body === "string" ? refusal.body : null;
    this.#auditAuthFailure(config, caller, refusal.status, first && "method" in first ? first.method : null, errorMessageOf(body));
    for (const m of call.messages) {
      if (!isRequest(m) || m.method !== "tools/call") continue;
      const name = m.params?.name;
      const target = typeof name === "string" ? resolveToolName(name, config.servers) : null;
      const facts: ToolCallFacts = { tool: target ? (name as string) : UNRESOLVED_TOOL, upstream: target?.server.name ?? null, outcome: "denied" };
      this.#record(config, caller, m, facts, body, Date.now(), metrics);
    }
    return refusal;
  }

  /** Writes `auth.failed` unless this caller already got one in the last minute. */
  #auditAuthFailure(config: PresetConfig, caller: string, status: number, method: string | null, message: string | null): void {
    if (!this.#authFailures.take(caller, Date.now())) return;
    this.#audit(config, "auth.failed", caller, { status, method, message });
  }

  /** Writes an audit event off the request path; a failure is logged, never surfaced. */
  #audit(config: PresetConfig, type: EventType, target: string | null, payload: Record<string, unknown>): void {
    const db = getDb(this.env.DB);
    void insertEvent(db, { ownerId: config.ownerId, presetId: config.id, actorId: null, type, target, payload })
      .run()
      .catch((e: unknown) => console.error("audit event not written", type, e));
  }

  #auditBreaker(serverId: string, state: BreakerState, lastError: string | null): void {
    const config = this.#config;
    if (!config) return;
    const server = config.servers.find((s) => s.id === serverId);
    this.#audit(config, BREAKER_EVENTS[state], server?.name ?? serverId, { serverId, state, ...(lastError && state === "open" ? { lastError } : {}) });
  }

  async #loadConfig(ref: PresetRef): Promise<PresetConfig | null> {
    if (this.#config !== undefined) {
      if (Date.now() - this.#configLoadedAt > CONFIG_REVALIDATE_MS) {
        this.#reloadConfig(ref).catch((e) => console.error("preset revalidation failed", e));
      }
      return this.#config;
    }
    return this.#reloadConfig(ref);
  }

  #reloadConfig(ref: PresetRef): Promise<PresetConfig | null> {
    this.#lastRef = { handle: ref.handle, slug: ref.slug };
    if (this.#configLoad) return this.#configLoad;
    const generation = this.#configGeneration;
    const load = loadPresetConfig(this.env, ref.handle, ref.slug)
      .then((config) => {
        // An invalidation raced this load: what we read may predate the change, so read again.
        if (generation !== this.#configGeneration) return this.#reloadConfig(ref);
        this.#applyConfig(config);
        return config;
      })
      .finally(() => {
        if (this.#configLoad === load) this.#configLoad = undefined;
      });
    this.#configLoad = load;
    return load;
  }

  #applyConfig(config: PresetConfig | null): void {
    const previousId = this.#config?.id;
    this.#config = config;
    this.#configLoadedAt = Date.now();
    this.#pool.retain(config?.servers ?? []);
    if (config && previousId !== config.id) this.#sessions.retainPreset(config.id);
    this.#resetCatalog();
  }

  #resetCatalog(): void {
    this.#catalog.reset();
    this.#notifications.listsMayHaveChanged();
  }
}

