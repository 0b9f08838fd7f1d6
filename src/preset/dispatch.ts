/**
 * @module What a preset's Durable Object does with one request of its MCP endpoint, after the
 * worker checked it: admission (preset, access, grant, session), then each JSON-RPC message to
 * its handler: initialize, ping, tools/list (the catalog), tools/call (ToolCalls), prompts,
 * resources, completions and log levels (PresetItems), subscriptions (PresetNotifications);
 * notifications and responses from the client (cancellation, answers to relayed requests). Every
 * request is counted against the caller's rate limits first. Also the session's DELETE and GET.
 */

import { CredentialsRequired, credentialsRequiredError } from "../credentials/caller-credentials";
import type { PresetNotifications } from "../items/notifications";
import { ITEM_METHODS, type PresetItems } from "../items/preset-items";
import { keptCapabilities, keptClientName } from "../mcp/client-capabilities";
import type { McpCall, McpReply, MessageReply, PresetRef } from "../mcp/contract";
import {
  errorMessageOf,
  isJsonObject,
  isNotification,
  isRequest,
  RpcCode,
  type RpcMessage,
  type RpcRequest,
  type RpcResponse,
  rpcErrorBody,
  rpcResultBody,
} from "../mcp/jsonrpc";
import { type ModernRequest, paramHeaderMismatch, withoutEraMeta } from "../mcp/modern";
import { CACHEABLE_METHODS, type CacheHints, isErrorReply, modernReply } from "../mcp/modern-results";
import { ALL_PROTOCOL_VERSIONS, allowsBatches, isLogLevel, LOG_LEVELS, META, negotiateVersion } from "../mcp/protocol";
import { callerKey } from "../policy/caller-key";
import type { LimitOutcome, RateLimits } from "../policy/rate-limits";
import { randomToken } from "../shared/ids";
import { GATEWAY_VERSION } from "../shared/version";
import type { ListenFilter, SessionStreams } from "../streaming/session-streams";
import { resolveToolName } from "../tools/catalog";
import type { CatalogCache } from "../tools/catalog-cache";
import { PassedRounds } from "../tools/input-rounds";
import { TASKS_EXTENSION, TaskRoutes } from "../tools/task-routes";
import { type CallContext, ownerOf, type StreamOpened, ToolCalls } from "../tools/tool-call";
import type { UpstreamPool } from "../upstream/pool";
import { type ToolCallFacts, toolCallRecord, UNRESOLVED_TOOL } from "../usage/call-record";
import type { MetricsWriter } from "../usage/metrics";
import type { UsageRecorder } from "../usage/recorder";
import { type Admission, type Entrant, errorReply } from "./admission";
import type { Alarms } from "./alarms";
import type { AlertDetectors } from "./alert-detectors";
import type { PresetAudit } from "./audit";
import type { PresetConfig } from "./config";
import type { ConfigCache } from "./config-cache";
import { budgetOf, type Session, type SessionStore, sessionOwner, sessionUser, upstreamCallerOf } from "./session-store";

export interface DispatchDeps {
  admission: Admission;
  config: ConfigCache;
  sessions: SessionStore;
  limits: RateLimits;
  pool: UpstreamPool;
  catalog: CatalogCache;
  items: PresetItems;
  notifications: PresetNotifications;
  streams: SessionStreams;
  usage: UsageRecorder;
  audit: PresetAudit;
  alarms: Alarms;
  /** Fed every recorded call and rate-limit refusal (error_rate.high, rate_limit.surge). */
  alerts?: AlertDetectors;
}

/**
 * The caller a new session counts against (SESSIONS_PER_CALLER), or null for the one bucket of
 * anonymous callers whose address is unknown: capping that would let one of them end everyone
 * else's sessions; the per-preset cap still bounds them.
 */
const cappedCaller = (key: string): string | null => (key === callerKey(null, null) ? null : key);

/** Resources one session may subscribe to at once (what a caller can make the object hold). */
export const SUBSCRIPTIONS_PER_SESSION = 100;

const reply = (status: number, body: McpReply["body"], headers?: Record<string, string>): McpReply => ({ status, body, headers });

/** Legacy methods that 2026-07-28 removed (SEP-2575): a modern request for one gets 404 and -32601. */
const REMOVED_IN_MODERN: ReadonlySet<string> = new Set([
  "initialize",
  "ping",
  "logging/setLevel",
  "resources/subscribe",
  "resources/unsubscribe",
  // The tasks extension of 2026-07-28 polls with tasks/get and has no list.
  "tasks/list",
  "tasks/result",
]);
/** Modern-era listen streams one caller may hold open on a preset, and the preset in all (like sessions). */
export const LISTENS_PER_CALLER = 100;
export const LISTENS_PER_PRESET = 2_000;

/** How long a modern client may treat a list (and server/discover) as fresh; list changes are announced anyway. */
export const LIST_TTL_MS = 60_000;

export class McpDispatch {
  readonly #deps: DispatchDeps;
  readonly #tools: ToolCalls;
  readonly #tasks: TaskRoutes;
  /** Modern upstreams' input rounds out with modern clients (tools/call, prompts/get, resources/read). */
  readonly #rounds = new PassedRounds();
  /** Open modern-era listen streams: stand-in session id → the caller key that opened it. */
  readonly #listens = new Map<string, string>();

  constructor(deps: DispatchDeps) {
    this.#deps = deps;
    this.#tasks = new TaskRoutes(deps.pool);
    this.#tools = new ToolCalls({
      tasks: this.#tasks,
      rounds: this.#rounds,
      pool: deps.pool,
      catalog: deps.catalog,
      streams: deps.streams,
      limits: deps.limits,
      upstreamNotification: (server, m, caller) => deps.notifications.upstreamNotification(server, m, caller),
      // A caller without their own credentials for an upstream is sent to its connect page (a URL elicitation where the client takes one).
      identityError: (e, capabilities) =>
        e.cause instanceof CredentialsRequired
          ? credentialsRequiredError(e.cause, capabilities)
          : { code: RpcCode.Unauthorized, message: e.message, data: { upstream: e.upstream } },
      refuse: (ctx, req, limited) => this.#refuse(ctx.config, ctx.caller, req, limited),
      record: (ctx, req, facts, body, at) => this.#record(ctx.config, ctx.caller, req, facts, body, at, ctx.metrics),
    });
  }

  /** A POST: one message, or a batch of them. */
  async mcp(call: McpCall): Promise<McpReply> {
    const { admission, limits, pool, alarms } = this.#deps;
    const first = call.messages[0];
    const metrics = this.#deps.usage.metricsWriter();
    try {
      const gate = await admission.admit(call, first);
      const caller = callerKey(call.userId, call.ip);
      if ("status" in gate) return this.#turnedAway(call, caller, gate, metrics);
      const { config } = gate;
      if (call.modern !== undefined) return await this.#modern(config, call, caller, call.modern, metrics);
      if (first && isRequest(first) && first.method === "initialize") {
        const limited = limits.takeControl(caller, config.rateLimit, Date.now());
        if (!limited.allowed) return this.#refuse(config, caller, first, limited);
        const answer = await this.#initialize(config, call, first);
        return { ...answer, headers: { ...limited.headers, ...answer.headers } };
      }

      const session = call.sessionId ? admission.ownSession(call.sessionId, call.userId, config) : null;
      if (!session) return errorReply(404, first, RpcCode.SessionNotFound, "Session not found: initialize a new session.");
      if (call.batch && !allowsBatches(session.protocolVersion)) {
        return errorReply(400, undefined, RpcCode.InvalidRequest, `JSON-RPC batches are not supported in protocol version ${session.protocolVersion}.`);
      }
      const ctx: CallContext = { config, session, caller, metrics, origin: call.origin };
      if (!call.batch && first && isRequest(first) && first.method === "tools/call") {
        const answer = await this.#streamableCall(ctx, first, call);
        if (pool.connected) alarms.scheduleSweep();
        return answer;
      }
      const handled = await Promise.all(call.messages.map((m) => this.#handle(ctx, m)));
      if (pool.connected) alarms.scheduleSweep();
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

  /** DELETE of the MCP endpoint: ends the caller's session, its calls in flight and its streams. */
  async endSession(call: Entrant & { sessionId: string }): Promise<McpReply> {
    const { admission, sessions } = this.#deps;
    const gate = await admission.admit(call, undefined);
    if ("status" in gate) return gate;
    const session = admission.ownSession(call.sessionId, call.userId, gate.config);
    if (!session) return errorReply(404, undefined, RpcCode.SessionNotFound, "Session not found.");
    sessions.delete(session.id);
    await this.sessionEnded(session.id);
    return reply(204, null);
  }

  /**
   * A session ended (its client's DELETE, expiry, eviction, revoked access): its calls in flight,
   * per-session rate counters, subscriptions (unsubscribing upstream where it was the last),
   * streams, log level and relayed requests go.
   */
  async sessionEnded(sessionId: string): Promise<void> {
    const { notifications, streams, config, limits } = this.#deps;
    this.#listens.delete(sessionId);
    this.#tools.endSession(sessionId);
    limits.forgetSession(sessionId);
    const current = config.current;
    const dropped = current ? notifications.dropSubscriptions(current, { id: sessionId }) : Promise.resolve();
    streams.endSession(sessionId);
    await dropped.catch((e: unknown) => console.error("subscriptions not dropped", e));
    // Its own upstream sessions (per-session scope) end after its subscriptions were dropped on them.
    this.#deps.pool.endSession(sessionId);
  }

  /**
   * GET of the MCP endpoint: the session's standalone SSE stream (list_changed, resources/updated),
   * or, with Last-Event-ID, any of its streams resumed after that event.
   */
  async listen(call: Entrant & { sessionId: string; lastEventId: string | null }): Promise<McpReply> {
    const { admission, streams, notifications, pool, alarms } = this.#deps;
    const gate = await admission.admit(call, undefined);
    if ("status" in gate) return gate;
    const session = admission.ownSession(call.sessionId, call.userId, gate.config);
    if (!session) return errorReply(404, undefined, RpcCode.SessionNotFound, "Session not found: initialize a new session.");
    const fresh = !streams.hasListeners;
    const result = streams.listen(session, call.lastEventId, { userId: call.userId, grantId: call.grantId ?? null });
    // The first listener: note what the lists are now, so a change can be told apart from no change.
    if (fresh && result.status === 200) notifications.listsMayHaveChanged(true);
    if (pool.connected) alarms.scheduleSweep();
    return reply(result.status, result.body);
  }

  /**
   * A tools/call alone in its POST: answered with JSON, unless it needs to relay something before
   * its answer; then with an SSE stream as soon as that opens (the call goes on behind it).
   */
  async #streamableCall(ctx: CallContext, req: RpcRequest, ref: PresetRef, settled?: () => void): Promise<McpReply> {
    let streamed!: StreamOpened;
    let streaming = false;
    const opened = new Promise<McpReply>((resolve) => {
      streamed = (r) => {
        streaming = true;
        resolve(r);
      };
    });
    const work = this.#tools.run(ctx, req, streamed).then((h) => reply(h.status ?? 200, h.body, h.headers));
    if (settled) work.finally(settled).catch(() => {});
    // Once the stream is out, a failure ends it (CallRelay.finish) and must not surface here.
    work.catch((e: unknown) => {
      if (streaming) console.error("streamed tool call failed", ref.handle, ref.slug, e);
    });
    return Promise.race([work, opened]);
  }

  /**
   * One modern-era (2026-07-28) request: served statelessly with a stand-in session that lives as
   * long as the request (its per-request log level, its relayed stream), through the same
   * handlers, limits and records as the legacy era; the reply gets what the modern era adds.
   */
  async #modern(config: PresetConfig, call: McpCall, caller: string, request: ModernRequest | null, metrics: MetricsWriter): Promise<McpReply> {
    const sent = call.messages[0];
    // A notification: 2026-07-28 defines none over HTTP (closing a stream is cancellation); accepted.
    if (request === null || !sent || !isRequest(sent)) return reply(202, null);
    // Upstreams are not told the client's era: a legacy upstream session must not see 2026-07-28 in _meta.
    const first = withoutEraMeta(sent);
    if (REMOVED_IN_MODERN.has(first.method)) {
      return reply(
        404,
        rpcErrorBody(first.id, RpcCode.MethodNotFound, `Method not found: ${first.method} is not part of protocol version ${request.version}.`),
      );
    }
    const now = Date.now();
    const session: Session = {
      id: `m-${randomToken(12)}`,
      presetId: config.id,
      principal: sessionOwner(call.userId),
      caller: null,
      protocolVersion: request.version,
      clientName: keptClientName(request.clientInfo),
      // What an upstream may ask this client through input_required rounds (tools/input-rounds.ts).
      clientCapabilities: keptCapabilities(request.capabilities),
      createdAt: now,
      lastSeen: now,
      standIn: true,
    };
    const { limits, streams, pool, alarms } = this.#deps;
    const hints = (method: string): CacheHints | undefined =>
      CACHEABLE_METHODS.has(method)
        ? {
            ttlMs: method === "resources/read" ? 0 : LIST_TTL_MS,
            cacheScope: method !== "resources/read" && config.visibility === "public" ? "public" : "private",
          }
        : undefined;
    const ctx: CallContext = { config, session, caller, metrics, origin: call.origin, shape: (req, body) => modernReply(body, req.id, hints(req.method)) };
    // What the request left in the object goes with it (no budget of its own: nothing in the rate limits).
    const forget = () => streams.endStandIn(session.id);
    if (first.method === "subscriptions/listen") return this.#listenModern(config, call, caller, session, first);
    if (request.logLevel) streams.setLogLevel(session.id, request.logLevel, false);
    if (first.method === "tools/call") {
      const tool = await this.#toolOf(config, session, first);
      const mismatch = tool ? paramHeaderMismatch(tool.inputSchema, first.params?.arguments, request.paramHeaders) : null;
      if (mismatch) {
        forget();
        return reply(400, rpcErrorBody(first.id, RpcCode.HeaderMismatch, `Header mismatch: ${mismatch}`));
      }
      // A task-only tool runs as a task of the tasks extension, for a client that declared it.
      let sentCall = first;
      if ((tool?.execution as { taskSupport?: unknown } | undefined)?.taskSupport === "required" && first.params?.requestState === undefined) {
        const extensions = request.capabilities.extensions as Record<string, unknown> | undefined;
        if (!extensions || typeof extensions[TASKS_EXTENSION] !== "object") {
          forget();
          return reply(
            400,
            rpcErrorBody(first.id, RpcCode.MissingClientCapability, `Missing required client capability: ${first.params?.name} runs only as a task.`, {
              requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } },
            }),
          );
        }
        sentCall = { ...first, params: { ...first.params, task: {} } };
      }
      let answer = await this.#streamableCall(ctx, sentCall, call, forget);
      // An upstream that needs a capability this client did not declare: HTTP 400, as the modern era answers it.
      if (typeof answer.body === "string" && isErrorReply(answer.body, first.id, RpcCode.MissingClientCapability)) answer = { ...answer, status: 400 };
      if (pool.connected) alarms.scheduleSweep();
      return answer;
    }
    try {
      if (first.method === "server/discover") {
        const limited = limits.takeControl(caller, config.rateLimit, now);
        if (!limited.allowed) return this.#refuse(config, caller, first, limited);
        return reply(200, await this.#discover(config, first), limited.headers);
      }
      const handled = await this.#handle(ctx, first);
      if (pool.connected) alarms.scheduleSweep();
      const body = handled.body === null ? null : ctx.shape!(first, handled.body);
      const status = body !== null && isErrorReply(body, first.id, RpcCode.MethodNotFound) ? 404 : (handled.status ?? 200);
      return reply(status, body, handled.headers);
    } finally {
      forget();
    }
  }

  /**
   * subscriptions/listen (2026-07-28): a stream of the list changes and resource updates the
   * client opted into, under a stand-in session that ends with the stream. Bounded like sessions:
   * LISTENS_PER_CALLER per caller, LISTENS_PER_PRESET in all (then 503 and -32030).
   */
  async #listenModern(config: PresetConfig, call: McpCall, caller: string, session: Session, req: RpcRequest): Promise<McpReply> {
    const { limits, items, notifications, streams, pool, alarms } = this.#deps;
    const limited = limits.takeControl(caller, config.rateLimit, Date.now());
    if (!limited.allowed) return this.#refuse(config, caller, req, limited);
    const wanted = req.params?.notifications ?? {};
    const uris = isJsonObject(wanted) ? (wanted.resourceSubscriptions ?? []) : null;
    if (!isJsonObject(wanted) || !Array.isArray(uris) || !uris.every((u) => typeof u === "string")) {
      return reply(200, rpcErrorBody(req.id, RpcCode.InvalidParams, "params.notifications must be an object; its resourceSubscriptions a list of URIs."));
    }
    if (uris.length > SUBSCRIPTIONS_PER_SESSION) {
      return reply(200, rpcErrorBody(req.id, RpcCode.InvalidParams, `A listen may subscribe to at most ${SUBSCRIPTIONS_PER_SESSION} resources.`));
    }
    const mine = [...this.#listens.values()].filter((c) => c === caller).length;
    if (this.#listens.size >= LISTENS_PER_PRESET || (cappedCaller(caller) !== null && mine >= LISTENS_PER_CALLER)) {
      return reply(
        503,
        rpcErrorBody(req.id, RpcCode.SessionsFull, "This preset has too many open listen streams; try again later.", { retryAfterSeconds: 60 }),
        {
          "retry-after": "60",
        },
      );
    }
    const { capabilities } = await items.describe(config);
    const has = (name: string) => isJsonObject(capabilities[name]);
    const filter: ListenFilter = {};
    if (wanted.toolsListChanged === true) filter.toolsListChanged = true;
    if (wanted.promptsListChanged === true && has("prompts")) filter.promptsListChanged = true;
    if (wanted.resourcesListChanged === true && has("resources")) filter.resourcesListChanged = true;
    if (uris.length > 0 && isJsonObject(capabilities.resources) && capabilities.resources.subscribe === true) {
      const subscribed: string[] = [];
      for (const uri of new Set(uris as string[])) {
        const answer = await notifications.subscription(config, session, { jsonrpc: "2.0", id: req.id, method: "resources/subscribe", params: { uri } });
        if (errorMessageOf(answer) === null) subscribed.push(uri);
      }
      filter.resourceSubscriptions = subscribed;
    }
    const fresh = !streams.hasListeners;
    this.#listens.set(session.id, caller);
    const listener = { sessionId: session.id, userId: call.userId, grantId: call.grantId ?? null };
    const body = streams.listenModern(listener, req.id, filter, () => void this.sessionEnded(session.id));
    // The first listener: note what the lists are now, so a change can be told apart from no change.
    if (fresh) notifications.listsMayHaveChanged(true);
    if (pool.connected) alarms.scheduleSweep();
    return reply(200, body, { ...limited.headers, "x-accel-buffering": "no" });
  }

  /** The exposed tool a tools/call names (for its `x-mcp-header` parameters and its `execution`), if the catalog has it. */
  async #toolOf(config: PresetConfig, session: Session, req: RpcRequest): Promise<Record<string, unknown> | undefined> {
    const name = req.params?.name;
    return typeof name === "string" ? (await this.#deps.catalog.entry(config, name, upstreamCallerOf(session)))?.tool : undefined;
  }

  /** server/discover: the versions the preset speaks, its capabilities (its upstreams'), identity and instructions. */
  async #discover(config: PresetConfig, req: RpcRequest): Promise<string> {
    const { capabilities: declared, instructions } = await this.#deps.items.describe(config);
    // 2025-11-25 tasks are the tasks extension in 2026-07-28.
    const { tasks, ...capabilities } = declared;
    if (tasks) capabilities.extensions = { [TASKS_EXTENSION]: {} };
    return rpcResultBody(req.id, {
      resultType: "complete",
      supportedVersions: ALL_PROTOCOL_VERSIONS,
      capabilities,
      ...(instructions ? { instructions } : {}),
      _meta: { [META.serverInfo]: { name: `${config.handle}/${config.slug}`, title: config.name, version: GATEWAY_VERSION } },
      ttlMs: LIST_TTL_MS,
      cacheScope: config.visibility === "public" ? "public" : "private",
    });
  }

  async #initialize(config: PresetConfig, call: McpCall, req: RpcRequest): Promise<McpReply> {
    const { sessions, pool, items, alarms } = this.#deps;
    const params = req.params ?? {};
    if (typeof params.protocolVersion !== "string") {
      return reply(400, rpcErrorBody(req.id, RpcCode.InvalidParams, "initialize needs params.protocolVersion (a string)."));
    }
    const protocolVersion = negotiateVersion(params.protocolVersion);
    const session = sessions.create({
      presetId: config.id,
      principal: sessionOwner(call.userId),
      caller: cappedCaller(callerKey(call.userId, call.ip)),
      protocolVersion,
      clientName: keptClientName(params.clientInfo),
      clientCapabilities: keptCapabilities(params.capabilities),
    });
    if ("full" in session) {
      const retryAfter = String(session.retryAfterSeconds);
      return reply(
        503,
        rpcErrorBody(req.id, RpcCode.SessionsFull, "This preset has too many open sessions; try again later.", {
          retryAfterSeconds: session.retryAfterSeconds,
        }),
        {
          "retry-after": retryAfter,
        },
      );
    }
    for (const server of config.servers) pool.warm(server, upstreamCallerOf(session, call.origin));
    if (config.servers.length > 0) alarms.scheduleSweep();
    // Capabilities follow the upstreams': known from earlier sessions, else learned by connecting.
    const { capabilities: declared, instructions } = await items.describe(config, upstreamCallerOf(session, call.origin));
    const result = {
      protocolVersion,
      capabilities: declared,
      serverInfo: { name: `${config.handle}/${config.slug}`, title: config.name, version: GATEWAY_VERSION },
      ...(instructions ? { instructions } : {}),
    };
    return { status: 200, body: rpcResultBody(req.id, result), sessionId: session.id };
  }

  async #handle(ctx: CallContext, message: RpcMessage): Promise<MessageReply> {
    const { config, session, caller } = ctx;
    const { limits, streams, catalog, items, notifications } = this.#deps;
    const now = Date.now();
    if (!isRequest(message)) {
      if (isNotification(message) && message.method === "notifications/cancelled") this.#tools.cancel(session.id, message.params);
      else if (!isNotification(message)) streams.answer(session, message as RpcResponse);
      // Notifications and responses are accepted and need no reply.
      return { body: null, headers: limits.peekControl(caller, config.rateLimit, now) };
    }
    if (message.method === "tools/call") return this.#tools.run(ctx, message);
    // Reading a resource or getting a prompt is a call, like tools/call; the rest is control traffic.
    const counted = message.method === "resources/read" || message.method === "prompts/get";
    const limited = counted
      ? limits.takeCall(caller, message.method, config.rateLimit, undefined, now, budgetOf(session))
      : limits.takeControl(caller, config.rateLimit, now, budgetOf(session));
    if (!limited.allowed) return this.#refuse(config, caller, message, limited);
    const answer = async (): Promise<string> => {
      switch (message.method) {
        case "ping":
          return rpcResultBody(message.id, {});
        case "tools/list":
          return catalog.list(config, message, upstreamCallerOf(session, ctx.origin));
        case "initialize":
          return rpcErrorBody(message.id, RpcCode.InvalidRequest, "The session is already initialized.");
        case "logging/setLevel": {
          const level = message.params?.level;
          if (!isLogLevel(level)) return rpcErrorBody(message.id, RpcCode.InvalidParams, `params.level must be one of ${LOG_LEVELS.join(", ")}.`);
          const upstreamLevel = streams.setLogLevel(session.id, level, this.#deps.admission.entitledToUpstreamLogs(sessionUser(session)));
          // Only the owner's and members' sessions set what upstreams are asked for; the gateway filters per session.
          if (upstreamLevel === null) return rpcResultBody(message.id, {});
          return items.answer(config, { ...message, params: { ...message.params, level: upstreamLevel } });
        }
        case "resources/subscribe": {
          const uri = message.params?.uri;
          const held = streams.subscriptionsOf(session.id);
          if (held.length >= SUBSCRIPTIONS_PER_SESSION && !held.includes(uri as string)) {
            return rpcErrorBody(
              message.id,
              RpcCode.InvalidParams,
              `A session may subscribe to at most ${SUBSCRIPTIONS_PER_SESSION} resources; unsubscribe from one first.`,
            );
          }
          return notifications.subscription(config, session, message);
        }
        case "resources/unsubscribe":
          return notifications.subscription(config, session, message);
        case "tasks/get":
        case "tasks/result":
        case "tasks/cancel":
        case "tasks/list":
          return this.#tasks.answer(config, ownerOf(ctx), message, session.standIn === true);
        case "tasks/update":
          if (session.standIn) return this.#tasks.answer(config, ownerOf(ctx), message, true);
          return rpcErrorBody(message.id, RpcCode.MethodNotFound, `Method not found: ${message.method}`);
        default:
          if (ITEM_METHODS.has(message.method)) {
            // A modern client answers a modern upstream's input rounds itself (prompts/get, resources/read).
            const modern = session.standIn ? { owner: ownerOf(ctx), capabilities: session.clientCapabilities, rounds: this.#rounds } : undefined;
            return items.answer(config, message, modern, upstreamCallerOf(session, ctx.origin));
          }
          return rpcErrorBody(message.id, RpcCode.MethodNotFound, `Method not found: ${message.method}`);
      }
    };
    return { body: await answer(), headers: limited.headers };
  }

  /** A request a rate limit refused: 429 with Retry-After, audited once per caller and window. */
  #refuse(config: PresetConfig, caller: string, req: RpcRequest, limited: LimitOutcome): McpReply & MessageReply & { status: number } {
    if (limited.audit) this.#deps.audit.write(config, "rate_limit.refused", caller, { caller, method: req.method, message: limited.message });
    this.#deps.alerts?.refused(config, caller, Date.now());
    return {
      status: 429,
      body: rpcErrorBody(req.id, RpcCode.RateLimited, limited.message!, { retryAfterSeconds: limited.retryAfterSeconds }),
      headers: limited.headers,
    };
  }

  /** Records one tools/call for metrics, rollups and the call log. Never throws. */
  #record(config: PresetConfig, caller: string, req: RpcRequest, facts: ToolCallFacts, body: string | null, at: number, metrics: MetricsWriter): void {
    try {
      const now = Date.now();
      const record = toolCallRecord(config, caller, req, facts, body, at, now);
      this.#deps.usage.record(record, metrics, { calls: config.auditCalls, arguments: config.auditArguments });
      this.#deps.alerts?.callRecorded(config, record, now);
    } catch (e) {
      console.error("tool call not recorded", e);
    }
  }

  /**
   * A request refused at the door. Refused credentials (401, 403) are audited as `auth.failed`,
   * at most once per caller per minute, and refused tool calls are counted as `denied`.
   */
  #turnedAway(call: McpCall, caller: string, refusal: McpReply, metrics: MetricsWriter): McpReply {
    const config = this.#deps.config.current;
    if (!config || (refusal.status !== 401 && refusal.status !== 403)) return refusal;
    const first = call.messages[0];
    const body = typeof refusal.body === "string" ? refusal.body : null;
    this.#deps.audit.authFailed(config, caller, refusal.status, first && "method" in first ? first.method : null, errorMessageOf(body));
    for (const m of call.messages) {
      if (!isRequest(m) || m.method !== "tools/call") continue;
      const name = m.params?.name;
      const target = typeof name === "string" ? resolveToolName(name, config.servers) : null;
      const facts: ToolCallFacts = { tool: target ? (name as string) : UNRESOLVED_TOOL, upstream: target?.server.name ?? null, outcome: "denied" };
      this.#record(config, caller, m, facts, body, Date.now(), metrics);
    }
    return refusal;
  }
}
