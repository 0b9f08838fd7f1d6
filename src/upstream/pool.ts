/**
 * @module A preset's upstream MCP sessions and tool, prompt and resource lists, behind one circuit
 * breaker per upstream.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { RpcCode } from "../mcp/jsonrpc";
import { META } from "../mcp/protocol";
import type { BreakerBoard } from "../policy/breaker-board";
import type { PresetServer } from "../preset/config";
import { callUpstream, type UpstreamCall } from "./call";
import {
  CallerIdentityError,
  CONNECT_TIMEOUT_MS,
  classifyFailure,
  connectUpstream,
  endUpstreamSession,
  type Item,
  type ItemKind,
  listUpstreamItems,
  listUpstreamTools,
  type Tool,
  UpstreamFailure,
  UpstreamRpcError,
} from "./client";
import { paramHeaders } from "./mcp-headers";
import { type DiscoveredProfile, discoverEra, EraMismatch, type InputRelay, listModern, looksModern, modernRequest, modernRequestWithInput } from "./modern";
import {
  capabilityProfile,
  declaredCapabilities,
  GATEWAY_CALLER,
  gatewayCallerLike,
  isGatewayCaller,
  outlivesRequest,
  ownedByClient,
  ownedBySession,
  sessionKey,
  type UpstreamCaller,
} from "./session-scope";
import { ToolStore } from "./tool-store";

/** A cached tool list older than this is refreshed in the background when served from storage. */
const STORED_TOOLS_FRESH_MS = 60_000;
/** A modern upstream's lists are listed again when older than this (in the background for tools). */
const MODERN_LISTS_FRESH_MS = 60_000;
/** A listen stream to a modern upstream is renewed (by the next request) after this long. */
const MODERN_LISTEN_MS = 10 * 60_000;
/** After a failed tools/list, wait this long before asking that upstream again. */
const LIST_RETRY_AFTER_MS = 5_000;
/** Live upstream sessions a preset's object holds at most (of every server and scope); past this the least recently used idle one is closed. */
export const MAX_UPSTREAM_SESSIONS = 200;
/** An upstream session unused this long is closed (DELETE), whatever else the preset does. */
export const UPSTREAM_SESSION_IDLE_MS = 5 * 60_000;
/** A caller's own credentials are resolved again this long before they expire, and at least this often. */
const IDENTITY_REFRESH_MS = 60_000;
/** Callers whose credentials the object keeps resolved at once (for modern upstreams; legacy sessions keep their own). */
const MAX_IDENTITIES = 1_000;
/** Idempotent requests (initialize, tools/list) are retried this many times on transient failures. */
const IDEMPOTENT_RETRIES = 2;
const RETRY_BASE_MS = 100;

/** Exponential backoff with full jitter: 0-100 ms, then 0-200 ms. */
const backoff = (attempt: number) => new Promise((r) => setTimeout(r, Math.random() * RETRY_BASE_MS * 2 ** attempt));

/** Runs an idempotent upstream request, retrying transient failures with jittered backoff. */
async function withRetries<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      if (!(e instanceof UpstreamFailure) || !e.transient || attempt >= IDEMPOTENT_RETRIES) throw e;
      await backoff(attempt);
    }
  }
}

/** What an upstream said about itself at initialize. */
export interface UpstreamProfile {
  fingerprint: string;
  capabilities: Record<string, unknown>;
  instructions: string | null;
}

/** Which protocol era an upstream speaks (modern.ts): probed once, kept until it stops working. */
type Era = "modern" | "legacy";

interface EraEntry {
  fingerprint: string;
  era: Promise<Era>;
  /** The verdict once the probe answered. */
  settled?: Era;
}

/** Asks the client behind a request something (sampling, elicitation, roots) the upstream asked: the client's result, or an McpError. */
export type AskClient = (method: string, params: Record<string, unknown> | undefined) => Promise<Record<string, unknown>>;

/** Headers a caller's own credentials add on an upstream's requests, and until when they hold (credentials/caller-credentials.ts). */
export interface UpstreamIdentity {
  headers: Record<string, string>;
  expiresAt: number | null;
}

/** What a request may ask of its caller besides the answer: relayed messages, and client input (modern upstreams). */
export type RequestRelay = Pick<UpstreamCall, "deadline" | "onMessage" | "onPause"> & {
  /** Whose upstream session the request goes on (session-scope.ts); the gateway's own when absent. */
  caller?: UpstreamCaller;
  /** How to ask this request's client what the upstream asks outside the request's reply (its standalone stream) while it runs. */
  ask?: AskClient;
  onInputRequired?: InputRelay;
  /** The calling client's capabilities, declared to a modern upstream in its stead (else the gateway's own). */
  clientCapabilities?: Record<string, unknown>;
  /** A modern client: a modern upstream's input_required result is returned as it is, for the client to answer. */
  passThroughInput?: boolean;
};

/** One upstream MCP session, of one server, held for the callers its key names (session-scope.ts). */
interface Connection {
  serverId: string;
  /** `<server id>|<session key>` */
  id: string;
  key: string;
  fingerprint: string;
  client: Promise<Client>;
  /** Sent on every request of the session: the server's headers and the caller's own credentials (refreshed in place). */
  headers: Record<string, string>;
  identityExpires: number | null;
  lastUsed: number;
  /** Requests in flight on it, newest last, with how to ask their clients. */
  active: Array<{ sessionId: string; ask?: AskClient }>;
  /** The downstream session that used it last: where what the upstream asks outside any request goes. */
  lastSession: string;
  /** The caller it was opened for (its scope key and capability profile are this caller's). */
  caller: UpstreamCaller;
  /** It announced that its tools changed: from then on it is served its own list, not its profile's. */
  toolsChanged: boolean;
}

interface ToolList {
  fingerprint: string;
  tools: Tool[];
  fetchedAt: number;
}

/**
 * The preset's upstream MCP sessions and tool lists. One initialized client per upstream, reused
 * by every request (no initialize handshake per call); tool lists are kept in memory and in the
 * Durable Object's SQLite storage, so a restarted object serves its catalog without asking.
 */
export class UpstreamPool {
  readonly #sql: SqlStorage;
  readonly #toolStore: ToolStore;
  readonly #allowInsecure: boolean;
  readonly #onToolsChanged: (serverId: string) => void;
  readonly #onResourceUpdated: (server: PresetServer, uri: string, caller: UpstreamCaller) => void;
  readonly #onConnected: (server: PresetServer, key: string) => void;
  readonly #onLog: (server: PresetServer, params: Record<string, unknown>) => void;
  readonly #onOutcome: (server: PresetServer, failure: UpstreamFailure | null) => void;
  readonly #identify: ((server: PresetServer, caller: UpstreamCaller) => Promise<UpstreamIdentity>) | null;
  readonly #ownCredentials: (server: PresetServer) => boolean;
  readonly #askSession:
    | ((server: PresetServer, sessionId: string, method: string, params: Record<string, unknown> | undefined) => Promise<Record<string, unknown>>)
    | null;
  readonly #breakers: BreakerBoard;
  readonly #maxSessions: number;
  /** Upstream sessions by `<server id>|<session key>`, least recently used first. */
  readonly #conns = new Map<string, Connection>();
  /** Callers' resolved credentials by `<server id>|<user id>` (modern upstreams, and before a session opens). */
  readonly #identities = new Map<string, { identity: UpstreamIdentity; resolvedAt: number; fingerprint: string }>();
  readonly #eras = new Map<string, EraEntry>();
  /** The log level asked of each modern upstream (sent in every request's _meta), as logging/setLevel set it. */
  readonly #logLevels = new Map<string, string>();
  readonly #tools = new Map<string, ToolList>();
  readonly #items = new Map<string, { fingerprint: string; items: Item[]; fetchedAt: number }>();
  /** The subscriptions/listen stream held to each modern upstream in use. */
  readonly #listens = new Map<string, { fingerprint: string; controller: AbortController }>();
  readonly #itemLoads = new Map<string, Promise<Item[]>>();
  readonly #profiles = new Map<string, UpstreamProfile>();
  readonly #toolLoads = new Map<string, Promise<Tool[]>>();
  readonly #listFailures = new Map<string, { at: number; error: UpstreamFailure }>();
  #lastUsed = 0;
  #requestSeq = 0;

  constructor(
    sql: SqlStorage,
    breakers: BreakerBoard,
    opts: {
      allowInsecure: boolean;
      /** An upstream's tools, prompts or resources changed. */
      onToolsChanged: (serverId: string) => void;
      /** An upstream says a resource changed, on the upstream session of `caller`. */
      onResourceUpdated?: (server: PresetServer, uri: string, caller: UpstreamCaller) => void;
      /** A new upstream session was opened (the first of its key, or after the last one was lost or closed). */
      onConnected?: (server: PresetServer, key: string) => void;
      /** A log line the upstream sent outside any call. */
      onLog?: (server: PresetServer, params: Record<string, unknown>) => void;
      /** A request to the upstream ended: null when it answered (a result or a JSON-RPC error), else why it failed. */
      onOutcome?: (server: PresetServer, failure: UpstreamFailure | null) => void;
      /** Whether a server's requests need each caller's own credentials (never shared between users). */
      ownCredentials?: (server: PresetServer) => boolean;
      /** The headers a caller's own credentials add (throws when the caller has none). */
      identify?: (server: PresetServer, caller: UpstreamCaller) => Promise<UpstreamIdentity>;
      /** Upstream sessions held at most (MAX_UPSTREAM_SESSIONS). */
      maxSessions?: number;
      /** Sends what an upstream asks outside any request to a downstream session (its standalone stream). */
      askSession?: (server: PresetServer, sessionId: string, method: string, params: Record<string, unknown> | undefined) => Promise<Record<string, unknown>>;
    },
  ) {
    this.#sql = sql;
    this.#toolStore = new ToolStore(sql);
    this.#breakers = breakers;
    this.#allowInsecure = opts.allowInsecure;
    this.#onToolsChanged = opts.onToolsChanged;
    this.#onResourceUpdated = opts.onResourceUpdated ?? (() => {});
    this.#onConnected = opts.onConnected ?? (() => {});
    this.#onLog = opts.onLog ?? (() => {});
    this.#onOutcome = opts.onOutcome ?? (() => {});
    this.#identify = opts.identify ?? null;
    this.#ownCredentials = opts.ownCredentials ?? (() => false);
    this.#askSession = opts.askSession ?? null;
    this.#maxSessions = opts.maxSessions ?? MAX_UPSTREAM_SESSIONS;
  }

  /** Forgets connections and tool lists of servers that left the preset or changed how they are reached. */
  retain(servers: readonly PresetServer[]): void {
    const current = new Map(servers.map((s) => [s.id, s.fingerprint]));
    for (const conn of [...this.#conns.values()]) if (current.get(conn.serverId) !== conn.fingerprint) this.#drop(conn);
    // Credentials may have been revoked or changed (the API invalidates the preset): resolved again when next needed.
    this.#identities.clear();
    for (const [id, listen] of this.#listens) if (current.get(id) !== listen.fingerprint) this.#stopListening(id);
    for (const [id, entry] of this.#eras) if (current.get(id) !== entry.fingerprint) this.#eras.delete(id);
    for (const [key, list] of this.#tools) if (current.get(serverOfKey(key)) !== list.fingerprint) this.#tools.delete(key);
    for (const [key, list] of this.#items) if (current.get(serverOfKey(key)) !== list.fingerprint) this.#items.delete(key);
    for (const key of this.#listFailures.keys()) if (!current.has(serverOfKey(key))) this.#listFailures.delete(key);
  }

  /**
   * Sends one request to the upstream through its circuit breaker, in the upstream's era. A legacy
   * session is re-initialized once if the upstream lost it. Never retried otherwise (a tools/call
   * may not be idempotent), except once when the upstream refused it for being of the wrong era.
   */
  async request(
    server: PresetServer,
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
    signal?: AbortSignal,
    relay?: RequestRelay,
  ): Promise<Record<string, unknown>> {
    this.#lastUsed = Date.now();
    const startedAt = this.#lastUsed;
    const probe = this.#admit(server);
    let result: Record<string, unknown> | undefined;
    try {
      result = await this.#byEra(
        server,
        relay?.caller ?? GATEWAY_CALLER,
        () => this.#modernRequest(server, method, params, timeoutMs, signal, relay),
        () => this.#legacyRequest(server, method, params, timeoutMs, signal, relay),
      );
      this.#answered(server, probe);
      return result;
    } catch (e) {
      this.#settle(server, e, probe, startedAt);
      throw e;
    } finally {
      const caller = relay?.caller;
      // A modern request's own upstream session (anonymous, or per-session) ends with it, unless
      // it started a task there (then it is closed when idle, like any other).
      const startedTask = typeof result?.task === "object" && result.task !== null;
      if (caller && !startedTask && !outlivesRequest(server.sessionScope, caller, this.#ownCredentials(server))) {
        const conn = this.#conns.get(connId(server, this.sessionKeyOf(server, caller)));
        if (conn && conn.active.length === 0) this.#drop(conn);
      }
    }
  }

  /** The key of the upstream session a caller's requests to a server go on (also for telling which clients share one). */
  sessionKeyOf(server: PresetServer, caller: UpstreamCaller): string {
    return sessionKey(server.sessionScope, caller, this.#ownCredentials(server));
  }

  async #legacyRequest(
    server: PresetServer,
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
    signal?: AbortSignal,
    relay?: RequestRelay,
  ): Promise<Record<string, unknown>> {
    const { onInputRequired: _, clientCapabilities: _c, passThroughInput: _p, caller = GATEWAY_CALLER, ask, ...messages } = relay ?? {};
    for (let attempt = 0; ; attempt++) {
      const reached = this.#connection(server, caller);
      const conn = reached instanceof Promise ? await reached : reached;
      const client = await conn.client;
      const id = this.#nextId();
      const running = { sessionId: caller.sessionId, ask };
      conn.active.push(running);
      try {
        return await callUpstream({ ...server, headers: conn.headers }, client, {
          ...messages,
          id,
          method,
          params,
          timeoutMs,
          signal,
          onToolsChanged: () => this.#toolsChanged(server, conn),
        });
      } catch (e) {
        const failure = classifyFailure(server, e, timeoutMs);
        if (failure instanceof UpstreamFailure && (failure.kind === "timeout" || failure.kind === "cancelled")) {
          // Tell the upstream to stop working on it (the HTTP request is already aborted).
          const reason = failure.kind === "timeout" ? `no answer within ${timeoutMs} ms` : "cancelled by the client";
          client.notification({ method: "notifications/cancelled", params: { requestId: id, reason } }).catch(() => {});
        } else if (failure instanceof UpstreamFailure && failure.kind === "session_lost") {
          // Only a 404 says the session is gone (the spec's rule): it is opened again, with no
          // DELETE (nothing is left to end). Any other failure (an HTTP 500, a bad reply, a dropped
          // connection) keeps the session, which the calls in flight on it still use.
          this.#drop(conn, true);
          if (attempt === 0) continue;
        }
        throw failure;
      } finally {
        conn.active.splice(conn.active.indexOf(running), 1);
        conn.lastUsed = Date.now();
      }
    }
  }

  /** A modern request: one stateless POST (rounds of them when the upstream asks for client input). */
  async #modernRequest(
    server: PresetServer,
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
    signal?: AbortSignal,
    relay?: RequestRelay,
  ): Promise<Record<string, unknown>> {
    if (method === "logging/setLevel") {
      // The modern era has no setLevel: the level travels in each request's _meta instead.
      if (typeof params.level === "string") this.#logLevels.set(server.id, params.level);
      return {};
    }
    this.#listen(server);
    const level = this.#logLevels.get(server.id);
    if (level) params = { ...params, _meta: { ...(params._meta as Record<string, unknown> | undefined), [META.logLevel]: level } };
    const { onInputRequired, clientCapabilities, passThroughInput, caller = GATEWAY_CALLER, ask: _a, ...messages } = relay ?? {};
    const reached = await this.#asCaller(server, caller);
    const send = async (tools: Tool[] | null) =>
      modernRequestWithInput(
        reached,
        { ...messages, id: this.#nextId(), method, params, timeoutMs, signal, onToolsChanged: () => this.#toolsChanged(server) },
        {
          allowInsecure: this.#allowInsecure,
          paramHeaders: (method === "tools/call" && paramHeaders(tools?.find((t) => t.name === params.name)?.inputSchema)) || [],
          nextId: () => this.#nextId(),
          relay: onInputRequired,
          clientCapabilities,
          passThrough: passThroughInput,
        },
      );
    try {
      if (method !== "tools/call") return await send(null);
      try {
        return await send(this.knownTools(server, caller) ?? (await this.tools(server, caller).catch(() => null)));
      } catch (e) {
        // Mcp-Param headers refused (-32020): the tool's schema may have changed. The upstream ran
        // nothing, so list its tools again and retry once, as the spec tells clients.
        if (!(e instanceof UpstreamRpcError) || e.code !== RpcCode.HeaderMismatch) throw e;
        this.#tools.delete(profileKey(server, caller));
        return await send(await this.#loadTools(server, this.#listerOf(server, caller), Date.now()).catch(() => null));
      }
    } catch (e) {
      throw method === "resources/read" ? resourceNotFound(e, params.uri) : e;
    }
  }

  /**
   * A modern upstream in use is listened to, as a legacy session holds its standalone stream: one
   * `subscriptions/listen` for the list changes its discover result says it announces, so the
   * preset learns of them at once (else only at the MODERN_LISTS_FRESH_MS refresh). It ends with
   * the stream (at most MODERN_LISTEN_MS), when the upstream is dropped or idle; the next request
   * opens another.
   */
  #listen(server: PresetServer): void {
    if (this.#listens.get(server.id)?.fingerprint === server.fingerprint) return;
    const capabilities = this.knownProfile(server)?.capabilities ?? {};
    const announces = (kind: string) => (capabilities[kind] as { listChanged?: unknown } | undefined)?.listChanged === true;
    const filter: Record<string, boolean> = {};
    if (announces("tools")) filter.toolsListChanged = true;
    if (announces("prompts")) filter.promptsListChanged = true;
    if (announces("resources")) filter.resourcesListChanged = true;
    if (Object.keys(filter).length === 0) return;
    const controller = new AbortController();
    const entry = { fingerprint: server.fingerprint, controller };
    this.#listens.set(server.id, entry);
    const onMessage = (m: Record<string, unknown>) => {
      if (m.method === "notifications/prompts/list_changed") this.itemsChanged(server, "prompts");
      else if (m.method === "notifications/resources/list_changed") this.itemsChanged(server, "resources");
    };
    modernRequest(
      server,
      {
        id: this.#nextId(),
        method: "subscriptions/listen",
        params: { notifications: filter },
        timeoutMs: MODERN_LISTEN_MS,
        signal: controller.signal,
        onToolsChanged: () => this.#toolsChanged(server),
        onMessage,
      },
      { allowInsecure: this.#allowInsecure },
    )
      .catch(() => {})
      .finally(() => {
        if (this.#listens.get(server.id) === entry) this.#listens.delete(server.id);
      });
  }

  #stopListening(serverId: string): void {
    this.#listens.get(serverId)?.controller.abort();
    this.#listens.delete(serverId);
  }

  #nextId(): string {
    return `mcpgate-${++this.#requestSeq}`;
  }

  /**
   * Runs `modern` or `legacy` by the upstream's era. When the answer says the verdict is stale (a
   * modern request answered like a legacy server, or a legacy one refused with a modern error or
   * an HTTP 400/405), the upstream is probed again once and, if its era changed, asked again: it
   * refused the request without running it.
   */
  async #byEra<T>(server: PresetServer, caller: UpstreamCaller, modern: () => Promise<T>, legacy: () => Promise<T>): Promise<T> {
    const era = await this.#era(server, caller);
    try {
      return await (era === "modern" ? modern() : legacy());
    } catch (e) {
      if (!staleVerdict(era, e)) throw e;
      this.#eras.delete(server.id);
      const now = await this.#era(server, caller);
      if (now === era) throw e;
      if (now === "modern") this.#dropServer(server.id);
      return now === "modern" ? modern() : legacy();
    }
  }

  /**
   * Whether the upstream is known to speak the modern era. Its lists then go stale after
   * MODERN_LISTS_FRESH_MS: it cannot tell the gateway they changed (that needs a subscriptions/listen
   * stream, which the gateway does not hold).
   */
  #isModern(server: PresetServer): boolean {
    const entry = this.#eras.get(server.id);
    return entry?.fingerprint === server.fingerprint && entry.settled === "modern";
  }

  /** The upstream's era: known, or probed with server/discover (one probe at a time per upstream; with the caller's credentials where it needs a user's own). */
  #era(server: PresetServer, caller: UpstreamCaller = GATEWAY_CALLER): Promise<Era> {
    const known = this.#eras.get(server.id);
    if (known?.fingerprint === server.fingerprint) return known.era;
    const probe = async () => {
      const reached = await this.#asCaller(server, caller);
      return withRetries(() => discoverEra(reached, this.#nextId(), { allowInsecure: this.#allowInsecure }));
    };
    const entry: EraEntry = {
      fingerprint: server.fingerprint,
      era: probe().then((verdict) => {
        if (verdict.era === "modern" && verdict.profile) this.#rememberProfile(server, verdict.profile);
        entry.settled = verdict.era;
        return verdict.era;
      }),
    };
    this.#eras.set(server.id, entry);
    // A failed probe is no verdict: the next request probes again.
    entry.era.catch(() => {
      if (this.#eras.get(server.id) === entry) this.#eras.delete(server.id);
    });
    return entry.era;
  }

  /**
   * Sends a client's answer to a request the upstream made during a call (sampling, elicitation,
   * roots) on the upstream session that made it. False if that session is gone.
   */
  async respond(
    server: PresetServer,
    caller: UpstreamCaller,
    message: { jsonrpc: "2.0"; id: string | number; result?: unknown; error?: unknown },
  ): Promise<boolean> {
    const conn = this.#conns.get(connId(server, this.sessionKeyOf(server, caller)));
    if (!conn || conn.fingerprint !== server.fingerprint) return false;
    try {
      const client = await conn.client;
      await client.transport?.send(message as Parameters<NonNullable<Client["transport"]>["send"]>[0]);
      return true;
    } catch {
      return false;
    }
  }

  /** Throws breaker_open while the upstream's breaker refuses calls; returns whether this is its probe. */
  #admit(server: PresetServer): boolean {
    const admission = this.#breakers.admit(server.id, Date.now());
    if (!admission.allowed) {
      const at = new Date(admission.retryAt).toISOString();
      throw new UpstreamFailure(server.name, "breaker_open", `Upstream '${server.name}' is failing; calls to it are paused until ${at}.`, admission.retryAt);
    }
    return admission.probe;
  }

  /** The upstream answered a request: its breaker and whoever watches it (onOutcome) are told. */
  #answered(server: PresetServer, probe: boolean): void {
    this.#breakers.record(server.id, true, Date.now(), probe);
    this.#onOutcome(server, null);
  }

  /** Tells the breaker what a failed request (begun at `startedAt`, if known) says about the upstream. */
  #settle(server: PresetServer, error: unknown, probe: boolean, startedAt?: number): void {
    if (error instanceof UpstreamFailure || error instanceof UpstreamRpcError) this.#onOutcome(server, error instanceof UpstreamFailure ? error : null);
    if (error instanceof UpstreamFailure && error.countsAgainstUpstream) this.#breakers.record(server.id, false, Date.now(), probe, error.message, startedAt);
    else if (error instanceof UpstreamRpcError)
      this.#breakers.record(server.id, true, Date.now(), probe); // the upstream answered (a JSON-RPC error)
    else this.#breakers.release(server.id, probe); // nothing was learned of the upstream (no credentials of the caller's, ...)
  }

  /**
   * The upstream's tool list as the caller sees it. What an upstream lists may depend on the
   * client's capabilities (tools offered only to clients that declared sampling), so each
   * capability profile has its list, kept in storage for restarts; and on the session (tools a
   * session added), so an upstream session that announces a change of its tools is listed on its
   * own from then on. A new session is served its profile's list at once (no tools/list per new
   * client); one older than STORED_TOOLS_FRESH_MS is listed again on that session in the
   * background. A session's list equal to its profile's is that same array: a thousand sessions
   * with the same tools hold one copy. A server that needs each caller's own credentials is listed
   * per session (each account may see other tools).
   */
  async tools(server: PresetServer, caller: UpstreamCaller = GATEWAY_CALLER, now = Date.now()): Promise<Tool[]> {
    const lister = this.#listerOf(server, caller);
    const key = this.#listKeyOf(server, lister);
    const cached = this.#tools.get(key);
    if (cached?.fingerprint === server.fingerprint) {
      if (this.#isModern(server) && now - cached.fetchedAt > MODERN_LISTS_FRESH_MS) this.#refreshInBackground(server, lister);
      return cached.tools;
    }
    // A modern upstream's list is its profile's; so is a new session's that announced no change of its own.
    const profile = profileKey(server, lister);
    if (key === profile || (!this.#ownCredentials(server) && !this.#conns.get(key)?.toolsChanged)) {
      const canonical = this.#profileList(server, profile);
      if (canonical) {
        if (now - canonical.fetchedAt > STORED_TOOLS_FRESH_MS) this.#refreshInBackground(server, lister);
        return canonical.tools;
      }
    }
    return this.#loadTools(server, lister, now);
  }

  /** The tool list the caller's upstream session lists now (unless listing it failed moments ago); a change reaches clients as a list_changed would. */
  async relistTools(server: PresetServer, caller: UpstreamCaller = GATEWAY_CALLER): Promise<Tool[]> {
    const tools = await this.#loadTools(server, this.#listerOf(server, caller), Date.now());
    this.#onToolsChanged(server.id);
    return tools;
  }

  /** The last tool list known for the caller (its session's, else its profile's, from memory or storage) without asking the upstream. */
  knownTools(server: PresetServer, caller: UpstreamCaller = GATEWAY_CALLER): Tool[] | null {
    const lister = this.#listerOf(server, caller);
    const own = this.#tools.get(this.#listKeyOf(server, lister));
    if (own?.fingerprint === server.fingerprint) return own.tools;
    return this.#profileList(server, profileKey(server, lister))?.tools ?? null;
  }

  /** A capability profile's tool list (`<server>#<profile>`): in memory, else from storage (then kept in memory). */
  #profileList(server: PresetServer, key: string): ToolList | null {
    const held = this.#tools.get(key);
    if (held?.fingerprint === server.fingerprint) return held;
    const stored = this.#readStored(server, key);
    if (stored) this.#tools.set(key, stored);
    return stored;
  }

  /**
   * The server's tool list listed last, by any profile or session (null if none is known in
   * memory): for telling that tools changed, and what tool pinning compares first.
   */
  anyKnownTools(server: PresetServer): Tool[] | null {
    return this.latestTools(server)?.tools ?? null;
  }

  /** anyKnownTools with when it was listed. */
  latestTools(server: PresetServer): { tools: Tool[]; fetchedAt: number } | null {
    let latest: ToolList | null = null;
    for (const [key, list] of this.#tools) {
      if (list.fingerprint !== server.fingerprint || serverOfKey(key) !== server.id) continue;
      if (!latest || list.fetchedAt >= latest.fetchedAt) latest = list;
    }
    return latest;
  }

  /** Who a caller's tool list is listed as: itself, or for a modern request whose upstream session would not outlive it, the gateway with its profile. */
  #listerOf(server: PresetServer, caller: UpstreamCaller): UpstreamCaller {
    return outlivesRequest(server.sessionScope, caller, this.#ownCredentials(server)) ? caller : gatewayCallerLike(caller);
  }

  /** A list's key: the upstream session's id (`<server>|<key>`), or the profile's (`<server>#<profile>`) for a modern upstream. */
  #listKeyOf(server: PresetServer, lister: UpstreamCaller): string {
    return this.#isModern(server) ? profileKey(server, lister) : connId(server, this.sessionKeyOf(server, lister));
  }

  /**
   * The upstream's prompts, resources or resource templates as the caller's upstream session lists
   * them (a session may have resources of its own), in memory and refreshed on list_changed.
   * Without a caller (telling listeners that lists changed): any list of the server already held,
   * else one listed on any of its sessions.
   */
  async items(server: PresetServer, kind: ItemKind, caller?: UpstreamCaller): Promise<Item[]> {
    const lister = caller ? this.#listerOf(server, caller) : null;
    let key = lister ? `${this.#listKeyOf(server, lister)}|${kind}` : null;
    if (key === null) {
      for (const [k, list] of this.#items) if (serverOfKey(k) === server.id && k.endsWith(`|${kind}`) && list.fingerprint === server.fingerprint) key = k;
    }
    const cached = key === null ? undefined : this.#items.get(key);
    const fresh = !this.#isModern(server) || Date.now() - (cached?.fetchedAt ?? 0) <= MODERN_LISTS_FRESH_MS;
    if (cached?.fingerprint === server.fingerprint && fresh) return cached.items;
    const loadKey = key ?? `${server.id}|any|${kind}`;
    const inflight = this.#itemLoads.get(loadKey);
    if (inflight) return inflight;
    const load = (async () => {
      let probe = false;
      try {
        probe = this.#admit(server);
        let listedOn = key;
        const items = await withRetries(() =>
          this.#byEra(
            server,
            lister ?? GATEWAY_CALLER,
            () => {
              listedOn = `${profileKey(server, lister ?? GATEWAY_CALLER)}|${kind}`;
              return this.#listModern(server, kind, lister ?? GATEWAY_CALLER);
            },
            async () => {
              const conn = lister ? await this.#connection(server, lister) : await this.#anyConnection(server);
              listedOn = `${conn.id}|${kind}`;
              return listUpstreamItems(server, await conn.client, kind);
            },
          ),
        );
        this.#answered(server, probe);
        if (listedOn) this.#items.set(listedOn, { fingerprint: server.fingerprint, items, fetchedAt: Date.now() });
        return items;
      } catch (e) {
        if (e instanceof CallerIdentityError) {
          this.#breakers.release(server.id, probe);
          throw e;
        }
        const failure = classifyFailure(server, e, CONNECT_TIMEOUT_MS);
        if (failure instanceof UpstreamFailure && failure.kind !== "breaker_open") this.#settle(server, failure, probe);
        // A stale list (of a modern upstream) is still better than none while the upstream fails.
        if (cached?.fingerprint === server.fingerprint) return cached.items;
        throw failure;
      } finally {
        this.#itemLoads.delete(loadKey);
      }
    })();
    this.#itemLoads.set(loadKey, load);
    return load;
  }

  /**
   * What the upstream declared at initialize: its capabilities and instructions. Known from the
   * last session (memory, then storage) or learned by connecting; null if it cannot be reached.
   */
  async profile(server: PresetServer, caller: UpstreamCaller = GATEWAY_CALLER): Promise<UpstreamProfile | null> {
    const known = this.knownProfile(server);
    if (known) return known;
    try {
      if ((await this.#era(server, caller)) === "legacy") await (await this.#anyConnection(server, caller)).client;
    } catch {
      return null;
    }
    return this.knownProfile(server);
  }

  knownProfile(server: PresetServer): UpstreamProfile | null {
    const cached = this.#profiles.get(server.id);
    if (cached?.fingerprint === server.fingerprint) return cached;
    const row = this.#sql
      .exec<{ fingerprint: string; profile: string }>("SELECT fingerprint, profile FROM upstream_profiles WHERE server_id = ?", server.id)
      .toArray()[0];
    if (!row || row.fingerprint !== server.fingerprint) return null;
    const profile = { fingerprint: row.fingerprint, ...(JSON.parse(row.profile) as Omit<UpstreamProfile, "fingerprint">) };
    this.#profiles.set(server.id, profile);
    return profile;
  }

  /** A modern upstream's items of one kind: none when its discover result lacks the capability. */
  async #listModern(server: PresetServer, kind: ItemKind | "tools", caller: UpstreamCaller): Promise<Item[]> {
    if (kind !== "tools") {
      const capabilities = this.knownProfile(server)?.capabilities;
      if (capabilities && !capabilities[kind === "prompts" ? "prompts" : "resources"]) return [];
    }
    // Listed means in use: its list changes are listened for from now on, not only from its first call.
    this.#listen(server);
    return listModern(await this.#asCaller(server, caller), kind, () => this.#nextId(), { allowInsecure: this.#allowInsecure });
  }

  #rememberProfile(server: PresetServer, said: DiscoveredProfile): void {
    const profile: UpstreamProfile = { fingerprint: server.fingerprint, ...said };
    const before = this.#profiles.get(server.id);
    this.#profiles.set(server.id, profile);
    if (JSON.stringify(before) !== JSON.stringify(profile)) {
      this.#sql.exec(
        "INSERT OR REPLACE INTO upstream_profiles VALUES (?, ?, ?)",
        server.id,
        server.fingerprint,
        JSON.stringify({ capabilities: profile.capabilities, instructions: profile.instructions }),
      );
    }
  }

  /** The upstream's prompts or resources (with templates) changed: list them again when next asked. */
  itemsChanged(server: PresetServer, kind: "prompts" | "resources", caller?: UpstreamCaller): void {
    const kinds = kind === "resources" ? ["|resources", "|resourceTemplates"] : ["|prompts"];
    // Said on one session: that session's lists (its profile's, for a modern upstream); else every list of the server.
    const on = caller ? this.#listKeyOf(server, this.#listerOf(server, caller)) : null;
    for (const key of [...this.#items.keys()]) {
      if (serverOfKey(key) !== server.id || !kinds.some((k) => key.endsWith(k))) continue;
      if (on === null || key.startsWith(`${on}|`)) this.#items.delete(key);
    }
    this.#onToolsChanged(server.id);
  }

  /** Opens an upstream session and loads the tools a client of `caller`'s profile sees, ahead of its first call; failures are only logged. */
  warm(server: PresetServer, caller: UpstreamCaller = GATEWAY_CALLER): void {
    this.tools(server, caller).catch(() => {});
    // The session itself too, so that the first call does not wait for an upstream initialize.
    this.#era(server, caller)
      .then((era) => (era === "legacy" ? this.#connection(server, this.#listerOf(server, caller)) : null))
      .catch(() => {});
  }

  get connected(): boolean {
    return this.#conns.size > 0 || this.#listens.size > 0;
  }

  /**
   * Closes the upstream sessions unused for `idleMs` (and the listen streams, once the whole pool
   * is). An open session holds a standalone SSE stream (for list_changed), and an object with an
   * outbound fetch in flight is never idle, so idle presets must let go of their upstreams.
   * Returns whether any remain open.
   */
  closeIfIdle(now: number, idleMs: number): boolean {
    for (const conn of [...this.#conns.values()]) if (conn.active.length === 0 && now - conn.lastUsed >= idleMs) this.#drop(conn);
    if (now - this.#lastUsed >= idleMs) for (const id of [...this.#listens.keys()]) this.#stopListening(id);
    return this.connected;
  }

  /** A user's own credentials for a server changed: forgets what was resolved for them and ends their upstream sessions of it. */
  forgetCaller(serverId: string, userId: string): void {
    this.#identities.delete(`${serverId}|${userId}`);
    for (const conn of [...this.#conns.values()]) {
      if (conn.serverId === serverId && conn.caller.userId === userId && !isGatewayCaller(conn.caller)) this.#drop(conn);
    }
  }

  /** A downstream session ended: the upstream sessions that were its own end too (DELETE). */
  endSession(sessionId: string): void {
    const own = `session:${sessionId}|`;
    for (const conn of [...this.#conns.values()]) if (conn.key.startsWith(own)) this.#drop(conn);
  }

  /** How many upstream sessions are open (or opening), by server id. */
  sessionCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const conn of this.#conns.values()) counts[conn.serverId] = (counts[conn.serverId] ?? 0) + 1;
    return counts;
  }

  /**
   * The upstream session a caller's requests to a server go on: open, or opened now (declaring the
   * caller's capability profile, with the caller's own credentials where the server needs them).
   * Past MAX_UPSTREAM_SESSIONS the least recently used idle session is closed; if every one is busy,
   * the request is refused.
   */
  #connection(server: PresetServer, caller: UpstreamCaller): Connection | Promise<Connection> {
    const now = Date.now();
    this.#lastUsed = now;
    const key = this.sessionKeyOf(server, caller);
    const id = connId(server, key);
    const existing = this.#conns.get(id);
    if (existing?.fingerprint === server.fingerprint) {
      // Most recently used last: the map's order is the LRU order.
      this.#conns.delete(id);
      this.#conns.set(id, existing);
      existing.lastUsed = now;
      if (!caller.ephemeral || ownedBySession(key)) existing.lastSession = caller.sessionId;
      // The hot path returns at once; only credentials about to expire are resolved again first.
      if (existing.identityExpires === null || existing.identityExpires - now >= IDENTITY_REFRESH_MS) return existing;
      return this.#identityOf(server, caller, true).then((identity) => {
        Object.assign(existing.headers, identity?.headers);
        existing.identityExpires = identity?.expiresAt ?? null;
        return existing;
      });
    }
    return this.#open(server, caller, key, id, existing);
  }

  /** Opens a new upstream session for the caller (see #connection). */
  async #open(server: PresetServer, caller: UpstreamCaller, key: string, id: string, existing: Connection | undefined): Promise<Connection> {
    const now = Date.now();
    if (existing) this.#drop(existing);
    this.#makeRoom(server);
    // Registered before anything is awaited, so concurrent requests of the caller share one session.
    const headers = { ...server.headers };
    const open = async () => {
      const identity = await this.#identityOf(server, caller);
      Object.assign(headers, identity?.headers);
      conn.identityExpires = identity?.expiresAt ?? null;
      return withRetries(() =>
        connectUpstream(
          { ...server, headers },
          {
            allowInsecure: this.#allowInsecure,
            capabilities: declaredCapabilities(capabilityProfile(caller.capabilities)),
            onRequest: (method, params) => this.#askOwner(server, conn, method, params),
            onToolsChanged: () => this.#toolsChanged(server, conn),
            onItemsChanged: (kind) => this.itemsChanged(server, kind === "resourceTemplates" ? "resources" : kind, conn.caller),
            onResourceUpdated: (uri) => this.#onResourceUpdated(server, uri, conn.caller),
            onLog: (params) => this.#onLog(server, params),
            onClose: () => {
              if (this.#conns.get(id) === conn) this.#conns.delete(id);
            },
          },
        ),
      );
    };
    const conn: Connection = {
      serverId: server.id,
      id,
      key,
      fingerprint: server.fingerprint,
      headers,
      identityExpires: null,
      lastUsed: now,
      active: [],
      lastSession: caller.sessionId,
      caller: { sessionId: caller.sessionId, userId: caller.userId, capabilities: caller.capabilities },
      toolsChanged: false,
      client: Promise.resolve().then(open),
    };
    this.#conns.set(id, conn);
    conn.client
      .then((c) => {
        this.#rememberProfile(server, {
          capabilities: (c.getServerCapabilities() ?? {}) as Record<string, unknown>,
          instructions: c.getInstructions() ?? null,
        });
        this.#onConnected(server, key);
      })
      .catch(() => {
        if (this.#conns.get(id) === conn) this.#conns.delete(id);
      });
    await conn.client;
    return conn;
  }

  /**
   * Any open session of the server (what it declares, and its prompt and resource lists, do not
   * depend on who asks), else the caller's own.
   */
  async #anyConnection(server: PresetServer, caller: UpstreamCaller = GATEWAY_CALLER): Promise<Connection> {
    for (const conn of this.#conns.values()) {
      if (conn.serverId === server.id && conn.fingerprint === server.fingerprint) {
        await conn.client;
        return conn;
      }
    }
    return this.#connection(server, this.#listerOf(server, caller));
  }

  /** Closes the least recently used idle upstream session when the object holds MAX_UPSTREAM_SESSIONS. */
  #makeRoom(server: PresetServer): void {
    if (this.#conns.size < this.#maxSessions) return;
    for (const conn of this.#conns.values()) {
      if (conn.active.length === 0) {
        this.#drop(conn);
        return;
      }
    }
    throw new UpstreamFailure(
      server.name,
      "sessions_full",
      `The preset holds ${this.#maxSessions} upstream sessions, all busy; try again shortly (or attach '${server.name}' with sessionScope "shared" if it keeps no state per client).`,
    );
  }

  /**
   * A request the upstream sent outside any request's reply (sampling, elicitation, roots): to the
   * client that owns the session. A running request of it asks its own client first (a call whose
   * upstream asks on its standalone stream, as SDK v2 servers answering in JSON do); else the
   * session's last downstream session gets it on its standalone stream. A session shared between
   * clients (or the gateway's own) has no one to ask.
   */
  async #askOwner(server: PresetServer, conn: Connection, method: string, params: Record<string, unknown> | undefined): Promise<Record<string, unknown>> {
    if (!ownedByClient(conn.key)) {
      throw new McpError(
        ErrorCode.InvalidRequest,
        `The gateway shares this upstream session between clients, so it has no one to ask ${method} outside a call (attach the server per-caller or per-session).`,
      );
    }
    const running = conn.active.findLast((r) => r.ask !== undefined);
    if (running?.ask) return running.ask(method, params);
    if (!this.#askSession) throw new McpError(ErrorCode.InvalidRequest, `No client to ask ${method}.`);
    return this.#askSession(server, conn.lastSession, method, params);
  }

  /**
   * The headers a caller's own credentials add for a server that needs them (null for one that
   * does not), kept until shortly before they expire. The gateway's own requests use the preset
   * owner's.
   */
  async #identityOf(server: PresetServer, caller: UpstreamCaller, fresh = false): Promise<UpstreamIdentity | null> {
    if (!this.#identify || !this.#ownCredentials(server)) return null;
    const key = identityKey(server, caller);
    const now = Date.now();
    const kept = this.#identities.get(key);
    if (
      !fresh &&
      kept?.fingerprint === server.fingerprint &&
      now - kept.resolvedAt < IDENTITY_REFRESH_MS &&
      (kept.identity.expiresAt === null || kept.identity.expiresAt - now >= IDENTITY_REFRESH_MS)
    ) {
      return kept.identity;
    }
    let identity: UpstreamIdentity;
    try {
      identity = await this.#identify(server, caller);
    } catch (e) {
      throw new CallerIdentityError(server.name, e);
    }
    this.#identities.delete(key);
    if (this.#identities.size >= MAX_IDENTITIES) this.#identities.delete(this.#identities.keys().next().value as string);
    this.#identities.set(key, { identity, resolvedAt: now, fingerprint: server.fingerprint });
    return identity;
  }

  /** The server as a caller reaches it statelessly (a modern upstream, the era probe): its headers, with the caller's own credentials over them where it needs them. */
  async #asCaller(server: PresetServer, caller: UpstreamCaller): Promise<PresetServer> {
    const identity = await this.#identityOf(server, caller);
    return identity ? { ...server, headers: { ...server.headers, ...identity.headers } } : server;
  }

  /**
   * Lets go of an upstream session. One the gateway abandons (idle, evicted, its preset changed,
   * its caller gone) is ended upstream too (DELETE, bounded, in the background); one the upstream
   * already `lost` (it answered 404) is only forgotten.
   */
  #drop(conn: Connection, lost = false): void {
    if (this.#conns.get(conn.id) === conn) this.#conns.delete(conn.id);
    // Its own lists go with it (a profile's canonical tool list stays).
    this.#tools.delete(conn.id);
    for (const kind of ["prompts", "resources", "resourceTemplates"]) this.#items.delete(`${conn.id}|${kind}`);
    conn.client.then((c) => (lost ? c.close() : endUpstreamSession(c))).catch(() => {});
  }

  #dropServer(serverId: string): void {
    for (const conn of [...this.#conns.values()]) if (conn.serverId === serverId) this.#drop(conn);
  }

  /**
   * An upstream said its tools changed. On a client's own session: that session is listed on its
   * own from then on (the change may be its alone), and its profile's list is listed again by the
   * next new session. On a session every client of the profile shares (or the gateway's): that
   * list and the profile's go. Without a session (a modern upstream's listen stream): every list
   * of the server. The catalog is rebuilt, and the lists are listed again in the background.
   */
  #toolsChanged(server: PresetServer, conn?: Connection): void {
    if (conn && ownedByClient(conn.key)) {
      conn.toolsChanged = true;
      this.#tools.delete(conn.id);
      this.#listFailures.delete(conn.id);
      const profile = this.#tools.get(profileKey(server, conn.caller));
      if (profile) profile.fetchedAt = 0;
      this.#onToolsChanged(server.id);
      this.#refreshInBackground(server, conn.caller);
      return;
    }
    const gone = conn ? [conn.id, profileKey(server, conn.caller)] : [...this.#tools.keys()].filter((k) => serverOfKey(k) === server.id);
    for (const key of gone) {
      this.#tools.delete(key);
      this.#listFailures.delete(key);
    }
    try {
      if (conn) this.#toolStore.delete(profileKey(server, conn.caller));
      else this.#toolStore.deleteServer(server.id);
    } catch (e) {
      console.error("stored tool list not deleted", server.name, e);
    }
    this.#onToolsChanged(server.id);
    if (conn) this.#refreshInBackground(server, conn.caller);
    else {
      const profiles = new Set(gone.filter((k) => k.includes("#")).map(profileOfKey));
      for (const profile of profiles.size > 0 ? profiles : [capabilityProfile(GATEWAY_CALLER.capabilities)]) {
        this.#refreshInBackground(server, { ...GATEWAY_CALLER, capabilities: declaredCapabilities(profile) });
      }
    }
  }

  #refreshInBackground(server: PresetServer, lister: UpstreamCaller): void {
    this.#loadTools(server, lister, Date.now())
      .then(() => this.#onToolsChanged(server.id))
      .catch(() => {});
  }

  /** Lists the tools `lister` sees (on its own upstream session; a modern upstream statelessly, with its credentials where the server needs them). */
  #loadTools(server: PresetServer, lister: UpstreamCaller, now: number): Promise<Tool[]> {
    const key = this.#listKeyOf(server, lister);
    const inflight = this.#toolLoads.get(key);
    if (inflight) return inflight;
    const failed = this.#listFailures.get(key);
    if (failed && now - failed.at < LIST_RETRY_AFTER_MS) return Promise.reject(failed.error);
    const load = (async () => {
      let probe = false;
      try {
        probe = this.#admit(server);
        let listedOn: string = key;
        let fresh = true;
        const listed = await withRetries(() =>
          this.#byEra(
            server,
            lister,
            async () => {
              listedOn = profileKey(server, lister);
              return (await this.#listModern(server, "tools", lister)) as Tool[];
            },
            async () => {
              const conn = await this.#connection(server, lister);
              listedOn = conn.id;
              fresh = !conn.toolsChanged;
              return listUpstreamTools(server, await conn.client);
            },
          ),
        );
        this.#answered(server, probe);
        const fetchedAt = Date.now();
        const tools = this.#canonical(server, lister, listedOn, listed, fetchedAt, fresh);
        this.#tools.set(listedOn, { fingerprint: server.fingerprint, tools, fetchedAt });
        this.#listFailures.delete(key);
        return tools;
      } catch (e) {
        if (e instanceof CallerIdentityError) {
          this.#breakers.release(server.id, probe);
          throw e;
        }
        const failure = classifyFailure(server, e, CONNECT_TIMEOUT_MS);
        const asFailure = failure instanceof UpstreamFailure ? failure : new UpstreamFailure(server.name, "bad_response", failure.message);
        if (asFailure.kind !== "breaker_open") this.#settle(server, asFailure, probe);
        this.#listFailures.set(key, { at: Date.now(), error: asFailure });
        throw asFailure;
      } finally {
        this.#toolLoads.delete(key);
      }
    })();
    this.#toolLoads.set(key, load);
    return load;
  }

  /**
   * A session's new list, as the profile's list where they are equal (one copy), or as the
   * profile's new list where it was listed on a session that announced no change of its own
   * (`fresh`: what any new session of the profile would list). Returns the array to keep.
   */
  #canonical(server: PresetServer, lister: UpstreamCaller, listedOn: string, listed: Tool[], fetchedAt: number, fresh: boolean): Tool[] {
    const key = profileKey(server, lister);
    const canonical = this.#profileList(server, key);
    if (canonical && listedOn !== key && JSON.stringify(canonical.tools) === JSON.stringify(listed)) {
      canonical.fetchedAt = fetchedAt;
      return canonical.tools;
    }
    if (!canonical || fresh) {
      const list = { fingerprint: server.fingerprint, tools: listed, fetchedAt };
      this.#tools.set(key, list);
      this.#store(server, key, list);
    }
    return listed;
  }

  /**
   * Keeps a tool list for restarts. A storage failure is the object's problem, not the upstream's:
   * logged, never counted against its breaker; the list is still served from memory.
   */
  #store(server: PresetServer, key: string, list: ToolList): void {
    try {
      if (!this.#toolStore.write(key, list)) console.warn("tool list too big to store; kept in memory only", server.name, list.tools.length);
    } catch (e) {
      console.error("tool list not stored", server.name, e);
    }
  }

  #readStored(server: PresetServer, key: string): ToolList | null {
    try {
      // A list an earlier release stored is kept under the server's id alone: any profile may start from it.
      return this.#toolStore.read(key, server.fingerprint) ?? this.#toolStore.read(server.id, server.fingerprint);
    } catch (e) {
      console.error("stored tool list unreadable", server.name, e);
      return null;
    }
  }
}

const connId = (server: PresetServer, key: string) => `${server.id}|${key}`;
/** A tool list's key: the server and the capability profile it was listed for. */
const profileKey = (server: PresetServer, caller: UpstreamCaller) => `${server.id}#${capabilityProfile(caller.capabilities)}`;
const serverOfKey = (key: string) => key.split(/[#|]/, 1)[0]!;
const profileOfKey = (key: string) => key.slice(key.indexOf("#") + 1);
/** Credentials are a user's (the gateway's own requests: the owner's, resolved by the object). */
const identityKey = (server: PresetServer, caller: UpstreamCaller) =>
  `${server.id}|${isGatewayCaller(caller) ? "gateway" : (caller.userId ?? `anon:${caller.sessionId}`)}`;

/** Whether a failure says the cached era of an upstream no longer holds. */
function staleVerdict(era: Era, error: unknown): boolean {
  if (era === "modern") return error instanceof EraMismatch;
  if (looksModern(error)) return true;
  return error instanceof UpstreamFailure && error.kind === "http_error" && (error.detail === 400 || error.detail === 405);
}

/**
 * A modern upstream says "resource not found" with -32602 and the URI in `data`; 2025 clients (and
 * the gateway's own answer for URIs it cannot route) know it as -32002.
 */
function resourceNotFound(error: unknown, uri: unknown): unknown {
  if (!(error instanceof UpstreamRpcError) || error.code !== RpcCode.InvalidParams) return error;
  const data = error.data as { uri?: unknown } | undefined;
  if (typeof data?.uri !== "string" && !/not found/i.test(error.message)) return error;
  return new UpstreamRpcError(RpcCode.ResourceNotFound, error.message, data ?? { uri });
}
