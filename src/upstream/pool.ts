/**
 * @module A preset's upstream MCP sessions and tool, prompt and resource lists, behind one circuit
 * breaker per upstream.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { RpcCode } from "../mcp/jsonrpc";
import { META } from "../mcp/protocol";
import type { BreakerBoard } from "../policy/breaker-board";
import type { PresetServer } from "../preset/config";
import { callUpstream, type UpstreamCall } from "./call";
import {
  CONNECT_TIMEOUT_MS,
  classifyFailure,
  connectUpstream,
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
import { ToolStore } from "./tool-store";

/** A cached tool list older than this is refreshed in the background when served from storage. */
const STORED_TOOLS_FRESH_MS = 60_000;
/** A modern upstream's lists are listed again when older than this (in the background for tools). */
const MODERN_LISTS_FRESH_MS = 60_000;
/** A listen stream to a modern upstream is renewed (by the next request) after this long. */
const MODERN_LISTEN_MS = 10 * 60_000;
/** After a failed tools/list, wait this long before asking that upstream again. */
const LIST_RETRY_AFTER_MS = 5_000;
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

/** What a request may ask of its caller besides the answer: relayed messages, and client input (modern upstreams). */
export type RequestRelay = Pick<UpstreamCall, "deadline" | "onMessage" | "onPause"> & {
  onInputRequired?: InputRelay;
  /** The calling client's capabilities, declared to a modern upstream in its stead (else the gateway's own). */
  clientCapabilities?: Record<string, unknown>;
  /** A modern client: a modern upstream's input_required result is returned as it is, for the client to answer. */
  passThroughInput?: boolean;
};

interface Connection {
  fingerprint: string;
  client: Promise<Client>;
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
  readonly #onResourceUpdated: (server: PresetServer, uri: string) => void;
  readonly #onConnected: (server: PresetServer) => void;
  readonly #onLog: (server: PresetServer, params: Record<string, unknown>) => void;
  readonly #breakers: BreakerBoard;
  readonly #conns = new Map<string, Connection>();
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
      /** An upstream says a resource the gateway subscribed to changed. */
      onResourceUpdated?: (server: PresetServer, uri: string) => void;
      /** A new upstream session was opened (the first, or after the last one was lost or closed). */
      onConnected?: (server: PresetServer) => void;
      /** A log line the upstream sent outside any call. */
      onLog?: (server: PresetServer, params: Record<string, unknown>) => void;
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
  }

  /** Forgets connections and tool lists of servers that left the preset or changed how they are reached. */
  retain(servers: readonly PresetServer[]): void {
    const current = new Map(servers.map((s) => [s.id, s.fingerprint]));
    for (const [id, conn] of this.#conns) if (current.get(id) !== conn.fingerprint) this.#drop(id);
    for (const [id, listen] of this.#listens) if (current.get(id) !== listen.fingerprint) this.#stopListening(id);
    for (const [id, entry] of this.#eras) if (current.get(id) !== entry.fingerprint) this.#eras.delete(id);
    for (const [id, list] of this.#tools) if (current.get(id) !== list.fingerprint) this.#tools.delete(id);
    for (const [key, list] of this.#items) if (current.get(key.split("|")[0]!) !== list.fingerprint) this.#items.delete(key);
    for (const id of this.#listFailures.keys()) if (!current.has(id)) this.#listFailures.delete(id);
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
    const probe = this.#admit(server);
    try {
      const result = await this.#byEra(
        server,
        () => this.#modernRequest(server, method, params, timeoutMs, signal, relay),
        () => this.#legacyRequest(server, method, params, timeoutMs, signal, relay),
      );
      this.#breakers.record(server.id, true, Date.now(), probe);
      return result;
    } catch (e) {
      this.#settle(server, e, probe);
      throw e;
    }
  }

  async #legacyRequest(
    server: PresetServer,
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
    signal?: AbortSignal,
    relay?: RequestRelay,
  ): Promise<Record<string, unknown>> {
    const { onInputRequired: _, clientCapabilities: _c, passThroughInput: _p, ...messages } = relay ?? {};
    for (let attempt = 0; ; attempt++) {
      const client = await this.#client(server);
      const id = this.#nextId();
      try {
        return await callUpstream(server, client, {
          ...messages,
          id,
          method,
          params,
          timeoutMs,
          signal,
          onToolsChanged: () => this.#toolsChanged(server),
        });
      } catch (e) {
        const failure = classifyFailure(server, e, timeoutMs);
        if (failure instanceof UpstreamFailure && (failure.kind === "timeout" || failure.kind === "cancelled")) {
          // Tell the upstream to stop working on it (the HTTP request is already aborted).
          const reason = failure.kind === "timeout" ? `no answer within ${timeoutMs} ms` : "cancelled by the client";
          client.notification({ method: "notifications/cancelled", params: { requestId: id, reason } }).catch(() => {});
        } else if (failure instanceof UpstreamFailure) this.#drop(server.id);
        if (failure instanceof UpstreamFailure && failure.kind === "session_lost" && attempt === 0) continue;
        throw failure;
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
    const { onInputRequired, clientCapabilities, passThroughInput, ...messages } = relay ?? {};
    const send = async (tools: Tool[] | null) =>
      modernRequestWithInput(
        server,
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
        return await send(this.knownTools(server) ?? (await this.tools(server).catch(() => null)));
      } catch (e) {
        // Mcp-Param headers refused (-32020): the tool's schema may have changed. The upstream ran
        // nothing, so list its tools again and retry once, as the spec tells clients.
        if (!(e instanceof UpstreamRpcError) || e.code !== RpcCode.HeaderMismatch) throw e;
        this.#tools.delete(server.id);
        return await send(await this.#loadTools(server, Date.now()).catch(() => null));
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
  async #byEra<T>(server: PresetServer, modern: () => Promise<T>, legacy: () => Promise<T>): Promise<T> {
    const era = await this.#era(server);
    try {
      return await (era === "modern" ? modern() : legacy());
    } catch (e) {
      if (!staleVerdict(era, e)) throw e;
      this.#eras.delete(server.id);
      const now = await this.#era(server);
      if (now === era) throw e;
      if (now === "modern") this.#drop(server.id);
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

  /** The upstream's era: known, or probed with server/discover (one probe at a time per upstream). */
  #era(server: PresetServer): Promise<Era> {
    const known = this.#eras.get(server.id);
    if (known?.fingerprint === server.fingerprint) return known.era;
    const entry: EraEntry = {
      fingerprint: server.fingerprint,
      era: withRetries(() => discoverEra(server, this.#nextId(), { allowInsecure: this.#allowInsecure })).then((verdict) => {
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
  async respond(server: PresetServer, message: { jsonrpc: "2.0"; id: string | number; result?: unknown; error?: unknown }): Promise<boolean> {
    const conn = this.#conns.get(server.id);
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

  /** Tells the breaker what a failed request says about the upstream. */
  #settle(server: PresetServer, error: unknown, probe: boolean): void {
    if (error instanceof UpstreamFailure && error.countsAgainstUpstream) this.#breakers.record(server.id, false, Date.now(), probe, error.message);
    else if (error instanceof UpstreamFailure) this.#breakers.release(server.id, probe);
    else this.#breakers.record(server.id, true, Date.now(), probe); // the upstream answered (a JSON-RPC error)
  }

  /** The upstream's tool list: from memory, else storage, else the upstream. */
  async tools(server: PresetServer, now = Date.now()): Promise<Tool[]> {
    const cached = this.#tools.get(server.id);
    if (cached?.fingerprint === server.fingerprint) {
      if (this.#isModern(server) && now - cached.fetchedAt > MODERN_LISTS_FRESH_MS) this.#refreshInBackground(server);
      return cached.tools;
    }
    const stored = this.#readStored(server);
    if (stored) {
      this.#tools.set(server.id, stored);
      if (now - stored.fetchedAt > STORED_TOOLS_FRESH_MS) this.#refreshInBackground(server);
      return stored.tools;
    }
    return this.#loadTools(server, now);
  }

  /** The tool list asked of the upstream now (unless listing it failed moments ago); a change reaches clients as a list_changed would. */
  async relistTools(server: PresetServer): Promise<Tool[]> {
    const tools = await this.#loadTools(server, Date.now());
    this.#onToolsChanged(server.id);
    return tools;
  }

  /** The last tool list known for the server (memory or storage) without asking the upstream. */
  knownTools(server: PresetServer): Tool[] | null {
    const cached = this.#tools.get(server.id);
    if (cached?.fingerprint === server.fingerprint) return cached.tools;
    return this.#readStored(server)?.tools ?? null;
  }

  /** The upstream's prompts, resources or resource templates (in memory; refreshed on list_changed). */
  async items(server: PresetServer, kind: ItemKind): Promise<Item[]> {
    const key = `${server.id}|${kind}`;
    const cached = this.#items.get(key);
    const fresh = !this.#isModern(server) || Date.now() - (cached?.fetchedAt ?? 0) <= MODERN_LISTS_FRESH_MS;
    if (cached?.fingerprint === server.fingerprint && fresh) return cached.items;
    const inflight = this.#itemLoads.get(key);
    if (inflight) return inflight;
    const load = (async () => {
      let probe = false;
      try {
        probe = this.#admit(server);
        const items = await withRetries(() =>
          this.#byEra(
            server,
            () => this.#listModern(server, kind),
            async () => listUpstreamItems(server, await this.#client(server), kind),
          ),
        );
        this.#breakers.record(server.id, true, Date.now(), probe);
        this.#items.set(key, { fingerprint: server.fingerprint, items, fetchedAt: Date.now() });
        return items;
      } catch (e) {
        const failure = classifyFailure(server, e, CONNECT_TIMEOUT_MS);
        if (failure instanceof UpstreamFailure && failure.kind !== "breaker_open") this.#settle(server, failure, probe);
        // A stale list (of a modern upstream) is still better than none while the upstream fails.
        if (cached?.fingerprint === server.fingerprint) return cached.items;
        throw failure;
      } finally {
        this.#itemLoads.delete(key);
      }
    })();
    this.#itemLoads.set(key, load);
    return load;
  }

  /**
   * What the upstream declared at initialize: its capabilities and instructions. Known from the
   * last session (memory, then storage) or learned by connecting; null if it cannot be reached.
   */
  async profile(server: PresetServer): Promise<UpstreamProfile | null> {
    const known = this.knownProfile(server);
    if (known) return known;
    try {
      if ((await this.#era(server)) === "legacy") await this.#client(server);
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
  async #listModern(server: PresetServer, kind: ItemKind | "tools"): Promise<Item[]> {
    if (kind !== "tools") {
      const capabilities = this.knownProfile(server)?.capabilities;
      if (capabilities && !capabilities[kind === "prompts" ? "prompts" : "resources"]) return [];
    }
    return listModern(server, kind, () => this.#nextId(), { allowInsecure: this.#allowInsecure });
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
  itemsChanged(server: PresetServer, kind: "prompts" | "resources"): void {
    this.#items.delete(`${server.id}|${kind}`);
    if (kind === "resources") this.#items.delete(`${server.id}|resourceTemplates`);
    this.#onToolsChanged(server.id);
  }

  /** Opens the upstream session and loads its tools ahead of the first call; failures are only logged. */
  warm(server: PresetServer): void {
    this.tools(server).catch(() => {});
  }

  get connected(): boolean {
    return this.#conns.size > 0 || this.#listens.size > 0;
  }

  /**
   * Closes every upstream session if none was used for `idleMs`. An open session holds a
   * standalone SSE stream (for list_changed), and an object with an outbound fetch in flight is
   * never idle, so idle presets must let go of their upstreams. Returns whether any remain open.
   */
  closeIfIdle(now: number, idleMs: number): boolean {
    if (now - this.#lastUsed >= idleMs) {
      for (const id of [...this.#conns.keys()]) this.#drop(id);
      for (const id of [...this.#listens.keys()]) this.#stopListening(id);
    }
    return this.connected;
  }

  #client(server: PresetServer): Promise<Client> {
    this.#lastUsed = Date.now();
    const existing = this.#conns.get(server.id);
    if (existing?.fingerprint === server.fingerprint) return existing.client;
    if (existing) this.#drop(server.id);
    const conn: Connection = {
      fingerprint: server.fingerprint,
      client: withRetries(() =>
        connectUpstream(server, {
          allowInsecure: this.#allowInsecure,
          onToolsChanged: () => this.#toolsChanged(server),
          onItemsChanged: (kind) => this.itemsChanged(server, kind === "resourceTemplates" ? "resources" : kind),
          onResourceUpdated: (uri) => this.#onResourceUpdated(server, uri),
          onLog: (params) => this.#onLog(server, params),
          onClose: () => {
            if (this.#conns.get(server.id) === conn) this.#conns.delete(server.id);
          },
        }),
      ),
    };
    this.#conns.set(server.id, conn);
    conn.client
      .then((c) => {
        this.#rememberProfile(server, {
          capabilities: (c.getServerCapabilities() ?? {}) as Record<string, unknown>,
          instructions: c.getInstructions() ?? null,
        });
        this.#onConnected(server);
      })
      .catch(() => {});
    conn.client.catch(() => {
      if (this.#conns.get(server.id) === conn) this.#conns.delete(server.id);
    });
    return conn.client;
  }

  #drop(serverId: string): void {
    const conn = this.#conns.get(serverId);
    this.#conns.delete(serverId);
    conn?.client.then((c) => c.close()).catch(() => {});
  }

  #toolsChanged(server: PresetServer): void {
    this.#tools.delete(server.id);
    try {
      this.#toolStore.delete(server.id);
    } catch (e) {
      console.error("stored tool list not deleted", server.name, e);
    }
    this.#listFailures.delete(server.id);
    this.#onToolsChanged(server.id);
    this.#refreshInBackground(server);
  }

  #refreshInBackground(server: PresetServer): void {
    this.#loadTools(server, Date.now())
      .then(() => this.#onToolsChanged(server.id))
      .catch(() => {});
  }

  #loadTools(server: PresetServer, now: number): Promise<Tool[]> {
    const inflight = this.#toolLoads.get(server.id);
    if (inflight) return inflight;
    const failed = this.#listFailures.get(server.id);
    if (failed && now - failed.at < LIST_RETRY_AFTER_MS) return Promise.reject(failed.error);
    const load = (async () => {
      let probe = false;
      try {
        probe = this.#admit(server);
        const tools = await withRetries(() =>
          this.#byEra(
            server,
            async () => (await this.#listModern(server, "tools")) as Tool[],
            async () => listUpstreamTools(server, await this.#client(server)),
          ),
        );
        this.#breakers.record(server.id, true, Date.now(), probe);
        const list = { fingerprint: server.fingerprint, tools, fetchedAt: Date.now() };
        this.#tools.set(server.id, list);
        this.#listFailures.delete(server.id);
        this.#store(server, list);
        return tools;
      } catch (e) {
        const failure = classifyFailure(server, e, CONNECT_TIMEOUT_MS);
        const asFailure = failure instanceof UpstreamFailure ? failure : new UpstreamFailure(server.name, "bad_response", failure.message);
        if (asFailure.kind !== "breaker_open") this.#settle(server, asFailure, probe);
        this.#listFailures.set(server.id, { at: Date.now(), error: asFailure });
        throw asFailure;
      } finally {
        this.#toolLoads.delete(server.id);
      }
    })();
    this.#toolLoads.set(server.id, load);
    return load;
  }

  /**
   * Keeps a tool list for restarts. A storage failure is the object's problem, not the upstream's:
   * logged, never counted against its breaker; the list is still served from memory.
   */
  #store(server: PresetServer, list: ToolList): void {
    try {
      if (!this.#toolStore.write(server.id, list)) console.warn("tool list too big to store; kept in memory only", server.name, list.tools.length);
    } catch (e) {
      console.error("tool list not stored", server.name, e);
    }
  }

  #readStored(server: PresetServer): ToolList | null {
    try {
      return this.#toolStore.read(server.id, server.fingerprint);
    } catch (e) {
      console.error("stored tool list unreadable", server.name, e);
      return null;
    }
  }
}

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
