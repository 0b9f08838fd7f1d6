/**
 * @module The SSE side of a preset's sessions: call reply streams, standalone GET streams,
 * resumption, relayed requests waiting for their answer, log levels and resource subscriptions.
 */

import { RpcCode, type RpcId, rpcErrorBody } from "../mcp/jsonrpc";
import { isLogLevel, LOG_LEVELS, type LogLevel, META, supportsSsePolling } from "../mcp/protocol";
import type { Session } from "../preset/session-store";
import { ClientStream } from "./client-stream";
import { EVENT_TTL_MS, parseEventId, SseEventLog } from "./sse-event-log";

/** What waits for a client's answer to a request relayed to it (a tool call's relay). */
export interface AwaitsAnswer {
  answer(gatewayId: string, response: { result?: unknown; error?: unknown }): void;
}

/** The gateway closes a standalone GET stream after this long; the client resumes it (nothing is lost). */
export const STANDALONE_MAX_MS = 10 * 60_000;

/** What an upstream asks a client outside any call waits this long for the client's standalone stream, then for its answer. */
export const ASK_STREAM_WAIT_MS = 10_000;
export const ASK_ANSWER_WAIT_MS = 5 * 60_000;
/** Requests asked of one session outside any call and not answered yet, at most. */
export const ASKS_PER_SESSION = 16;

/** Why a request could not be asked of a client, with the JSON-RPC code the upstream gets. */
export class AskRefused extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** A modern-era listen stream sends an SSE comment this often while quiet, and learns so that its client left. */
export const LISTEN_KEEPALIVE_MS = 15_000;

/** What a modern-era `subscriptions/listen` opted into (2026-07-28), as the gateway honors it. */
export interface ListenFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

/** Which filter field lets a notification through on a listen stream. */
const FILTER_OF: Record<string, keyof ListenFilter> = {
  "notifications/tools/list_changed": "toolsListChanged",
  "notifications/prompts/list_changed": "promptsListChanged",
  "notifications/resources/list_changed": "resourcesListChanged",
  "notifications/resources/updated": "resourceSubscriptions",
};

/** Who opened a session's standalone stream: the credential its GET carried. */
export interface Listener {
  sessionId: string;
  userId: string | null;
  /** The OAuth grant of the access token; null for an API token or no credential. */
  grantId: string | null;
}

/**
 * What the object decides about a listener now: go on; close its connection (the credential it
 * came with was revoked: resuming needs a valid one); or end its session (its user lost access).
 */
export type ListenerVerdict = "keep" | "disconnect" | "end";

/** How the object judges listeners (preset/admission.ts), injected so streams stay policy-free. */
export interface ListenerPolicy {
  verdict(listener: Listener): ListenerVerdict;
  /** Whether the listener may hear upstream log lines sent outside any call (the preset's owner and members). */
  hearsUpstreamLogs(listener: Listener): boolean;
  /** The object ends this session (its user lost access). */
  endSession(sessionId: string): void;
}

const OPEN_POLICY: ListenerPolicy = { verdict: () => "keep", hearsUpstreamLogs: () => true, endSession: () => {} };

/** What a GET of the MCP endpoint gets: an SSE body, or an error. */
export type ListenResult = { status: 200; body: ReadableStream<Uint8Array> } | { status: number; body: string };

const supportsPolling = (s: Session) => supportsSsePolling(s.protocolVersion);

/**
 * The SSE side of a preset's sessions: call reply streams that became SSE, each session's
 * standalone GET stream (list_changed, resources/updated), resumption with Last-Event-ID from the
 * event log, requests relayed to clients and waiting for their answer, log levels and resource
 * subscriptions per session. Lives in the preset's Durable Object.
 */
export class SessionStreams {
  readonly #log: SseEventLog;
  /** Reply streams of calls in flight, by stream id. */
  readonly #calls = new Map<string, ClientStream>();
  /** Each session's standalone stream, connected or waiting for the client to resume it. */
  readonly #standalone = new Map<string, ClientStream>();
  /** Requests relayed to a client, by the id the client sees. */
  readonly #requests = new Map<string, { sessionId: string; relay: AwaitsAnswer; outOfCall?: boolean }>();
  /** Who opened each standalone stream. */
  readonly #listeners = new Map<string, Listener>();
  /** Each session's log level (an index of LOG_LEVELS), and whether it counts for the level asked of upstreams. */
  readonly #levels = new Map<string, { rank: number; counts: boolean }>();
  /** Modern-era listen streams (by their stand-in session): the subscription id (the listen request's id) and filter. */
  readonly #modern = new Map<string, { subscriptionId: RpcId; filter: ListenFilter }>();
  /** Sessions waiting for a standalone stream to ask their client something on (`ask`). */
  readonly #streamWaiters = new Map<string, Set<() => void>>();
  /** Modern requests' stand-in sessions that opened a call stream (what endStandIn must clear from the log). */
  readonly #standInStreams = new Set<string>();
  /** Exposed resource URIs each session subscribed to. */
  readonly #subscriptions = new Map<string, Set<string>>();
  #requestSeq = 0;

  #policy: ListenerPolicy = OPEN_POLICY;

  constructor(sql: SqlStorage) {
    this.#log = new SseEventLog(sql);
  }

  /** Sets how listeners are judged (the object wires its admission here once it has one). */
  judgeWith(policy: ListenerPolicy): void {
    this.#policy = policy;
  }

  /** Starts the SSE reply stream of a call (on the first message that needs relaying). */
  openCallStream(session: Session, requestId: RpcId): ClientStream {
    if (session.standIn) this.#standInStreams.add(session.id);
    const id = this.#log.open(session.id, "call", requestId);
    const stream = new ClientStream(this.#log, id, session.id, supportsPolling(session));
    this.#calls.set(id, stream);
    return stream;
  }

  /** The call is over; its stream stays in the log for a late resumption. */
  closeCallStream(stream: ClientStream): void {
    this.#calls.delete(stream.id);
  }

  /**
   * GET of the MCP endpoint. Without Last-Event-ID: the session's standalone stream (a new one
   * replaces the old). With it: that stream of the session, resumed after the event it names.
   */
  listen(session: Session, lastEventId: string | null, who: Omit<Listener, "sessionId">): ListenResult {
    const listener = { sessionId: session.id, userId: who.userId, grantId: who.grantId };
    if (lastEventId === null) {
      this.#listeners.set(session.id, listener);
      const id = this.#log.open(session.id, "standalone", null);
      const stream = new ClientStream(this.#log, id, session.id, supportsPolling(session));
      this.#standalone.get(session.id)?.disconnect();
      this.#standalone.set(session.id, stream);
      const body = this.#connectStandalone(stream, null);
      this.#streamOpened(session.id);
      return { status: 200, body };
    }
    const position = parseEventId(lastEventId);
    const info = position && this.#log.stream(position.streamId);
    if (!position || !info || info.sessionId !== session.id) {
      return { status: 400, body: rpcErrorBody(null, RpcCode.BadRequest, "Last-Event-ID does not name a stream of this session (it may have expired).") };
    }
    if (info.kind === "standalone") {
      this.#listeners.set(session.id, listener);
      let stream = this.#standalone.get(session.id);
      if (stream?.id !== info.id) {
        stream?.disconnect();
        stream = new ClientStream(this.#log, info.id, session.id, supportsPolling(session));
        this.#standalone.set(session.id, stream);
      }
      return { status: 200, body: this.#connectStandalone(stream, position.seq) };
    }
    const live = this.#calls.get(info.id);
    if (live) return { status: 200, body: live.connect(position.seq) };
    const stream = new ClientStream(this.#log, info.id, session.id, false);
    if (info.done) return { status: 200, body: stream.connect(position.seq, true) };
    // The call was in flight when the object restarted: its answer will never come.
    const body = stream.connect(position.seq);
    stream.end(rpcErrorBody(info.requestId, RpcCode.InternalError, "The gateway restarted during this call; its outcome is unknown."));
    return { status: 200, body };
  }

  /**
   * A modern-era `subscriptions/listen` (2026-07-28): a stream of its own, acknowledged first with
   * the filter the gateway honors; every notification on it is one the filter asked for, tagged
   * with the subscription id. No resumption: when the client leaves (a write fails: at the latest the next keep-alive) or
   * after STANDALONE_MAX_MS (then answered with the listen request's result, a graceful end),
   * `ended` is told, and the object drops the stand-in session with its subscriptions.
   */
  listenModern(listener: Listener, subscriptionId: RpcId, filter: ListenFilter, ended: () => void): ReadableStream<Uint8Array> {
    const { sessionId } = listener;
    this.#listeners.set(sessionId, listener);
    this.#modern.set(sessionId, { subscriptionId, filter });
    const stream = new ClientStream(this.#log, this.#log.open(sessionId, "standalone", null), sessionId, false);
    this.#standalone.set(sessionId, stream);
    const body = stream.connect(null);
    const tag = { [META.subscriptionId]: subscriptionId };
    stream.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/subscriptions/acknowledged", params: { _meta: tag, notifications: filter } }));
    let over = false;
    const finish = () => {
      if (over) return;
      over = true;
      clearInterval(beat);
      clearTimeout(limit);
      ended();
    };
    const beat = setInterval(() => {
      if (stream.connected && !stream.done) stream.keepAlive();
      else finish();
    }, LISTEN_KEEPALIVE_MS);
    stream.onGone = finish;
    const limit = setTimeout(() => {
      stream.end(JSON.stringify({ jsonrpc: "2.0", id: subscriptionId, result: { resultType: "complete", _meta: tag } }));
      finish();
    }, STANDALONE_MAX_MS);
    return body;
  }

  /** The text of `message` for a session's standalone stream: as it is, or on a modern listen stream tagged, or null when its filter leaves it out. */
  #framed(sessionId: string, message: Record<string, unknown>, data: string): string | null {
    const modern = this.#modern.get(sessionId);
    if (!modern) return data;
    const field = FILTER_OF[message.method as string];
    if (!field || !modern.filter[field]) return null;
    const params = (message.params ?? {}) as Record<string, unknown>;
    if (field === "resourceSubscriptions" && !modern.filter.resourceSubscriptions?.includes(params.uri as string)) return null;
    const meta = { ...(params._meta as Record<string, unknown> | undefined), [META.subscriptionId]: modern.subscriptionId };
    return JSON.stringify({ ...message, params: { ...params, _meta: meta } });
  }

  /**
   * Sends a notification to every session with a standalone stream (or only to `sessionIds`)
   * whose access the object confirms now: a listener that lost it gets nothing (see `review`).
   */
  broadcast(message: Record<string, unknown>, sessionIds?: Iterable<string>): void {
    const data = JSON.stringify(message);
    const now = Date.now();
    const targets = sessionIds ? [...sessionIds].map((id) => this.#standalone.get(id)).filter((s) => s !== undefined) : [...this.#standalone.values()];
    for (const stream of targets) {
      // Gone for longer than its events are kept: the client is not coming back for them.
      if (stream.detachedAt !== null && now - stream.detachedAt > EVENT_TTL_MS) {
        this.#standalone.delete(stream.sessionId);
        this.#listeners.delete(stream.sessionId);
        continue;
      }
      if (this.#judge(stream.sessionId) !== "keep") continue;
      const framed = this.#framed(stream.sessionId, message, data);
      if (framed !== null) stream.send(framed);
    }
  }

  /**
   * Decides again, for every session with a standalone stream, whether its listener still has
   * access (after any change of the preset, its members, a grant or a token): a listener whose
   * credential was revoked is disconnected, one whose user lost access has its session ended.
   */
  review(): void {
    for (const sessionId of [...this.#standalone.keys()]) this.#judge(sessionId);
  }

  /** Disconnects the standalone streams a user opened with an API token (one of its tokens was revoked). */
  disconnectTokenListeners(userId: string): void {
    for (const [sessionId, l] of this.#listeners) {
      if (l.userId === userId && l.grantId === null) this.#standalone.get(sessionId)?.disconnect();
    }
  }

  #judge(sessionId: string): ListenerVerdict {
    const listener = this.#listeners.get(sessionId);
    const verdict = listener ? this.#policy.verdict(listener) : "keep";
    if (verdict === "disconnect") this.#standalone.get(sessionId)?.disconnect();
    // The object ends the session, and with it this stream (endSession below).
    else if (verdict === "end") this.#policy.endSession(sessionId);
    return verdict;
  }

  /**
   * A log line an upstream sent outside any call: to every listening session that asked for logs
   * at that level and may hear upstream logs (the preset's owner and members, never a stranger on
   * a public preset), with `logger` naming the server when the upstream gave none.
   */
  broadcastLog(serverName: string, params: Record<string, unknown>): void {
    const sessions = [...this.#standalone.keys()].filter((id) => {
      const listener = this.#listeners.get(id);
      return listener !== undefined && this.wantsLog(id, params.level) && this.#policy.hearsUpstreamLogs(listener);
    });
    if (sessions.length === 0) return;
    const logger = typeof params.logger === "string" ? params.logger : serverName;
    this.broadcast({ jsonrpc: "2.0", method: "notifications/message", params: { ...params, logger } }, sessions);
  }

  /** True while some session has a standalone stream (connected, or to be resumed). */
  get hasListeners(): boolean {
    return this.#standalone.size > 0;
  }

  /** True while the session's client holds its standalone stream open. */
  isListening(sessionId: string): boolean {
    return this.#standalone.get(sessionId)?.connected ?? false;
  }

  /** True while some client holds a standalone stream open (it waits for notifications). */
  get listening(): boolean {
    for (const s of this.#standalone.values()) if (s.connected) return true;
    return false;
  }

  /**
   * Asks a session's client something an upstream asked outside any call (roots/list after
   * initialize, an elicitation on the upstream's standalone stream): sent on the session's
   * standalone stream, waiting ASK_STREAM_WAIT_MS for the client to open one; the client's
   * answer resolves it (its error rejects it), or ASK_ANSWER_WAIT_MS pass.
   */
  async ask(sessionId: string, method: string, params: Record<string, unknown> | undefined): Promise<Record<string, unknown>> {
    if (this.#modern.has(sessionId) || sessionId.startsWith("m-")) {
      throw new AskRefused(RpcCode.InvalidRequest, `The client speaks a protocol version with no requests outside a call; ${method} cannot reach it.`);
    }
    let pending = 0;
    for (const r of this.#requests.values()) if (r.sessionId === sessionId && r.outOfCall) pending++;
    if (pending >= ASKS_PER_SESSION) throw new AskRefused(RpcCode.InvalidRequest, `The client has ${ASKS_PER_SESSION} requests outside a call unanswered.`);
    if (!this.#standalone.has(sessionId)) await this.#waitForStream(sessionId);
    const stream = this.#standalone.get(sessionId);
    if (!stream) throw new AskRefused(RpcCode.InvalidRequest, `The client holds no stream to receive ${method} outside a call.`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#requests.delete(id);
        reject(new AskRefused(RpcCode.InternalError, `The client did not answer ${method} within ${ASK_ANSWER_WAIT_MS / 1000} s.`));
      }, ASK_ANSWER_WAIT_MS);
      const id = this.registerRequest(sessionId, {
        answer: (gatewayId, response) => {
          clearTimeout(timer);
          this.#requests.delete(gatewayId);
          const error = response.error as { code?: unknown; message?: unknown } | undefined;
          if (error)
            reject(new AskRefused(typeof error.code === "number" ? error.code : RpcCode.InternalError, String(error.message ?? "The client refused.")));
          else resolve((response.result ?? {}) as Record<string, unknown>);
        },
      });
      this.#requests.get(id)!.outOfCall = true;
      stream.send(JSON.stringify({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) }));
    });
  }

  #waitForStream(sessionId: string): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.#streamWaiters.get(sessionId) ?? new Set();
      this.#streamWaiters.set(sessionId, waiters);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0 && this.#streamWaiters.get(sessionId) === waiters) this.#streamWaiters.delete(sessionId);
        resolve();
      };
      const timer = setTimeout(done, ASK_STREAM_WAIT_MS);
      waiters.add(done);
    });
  }

  #streamOpened(sessionId: string): void {
    for (const done of [...(this.#streamWaiters.get(sessionId) ?? [])]) done();
  }

  /** A new id for a request relayed to a client. */
  registerRequest(sessionId: string, relay: AwaitsAnswer): string {
    const id = `mcpgate-s${++this.#requestSeq}`;
    this.#requests.set(id, { sessionId, relay });
    return id;
  }

  forgetRequest(id: string): void {
    this.#requests.delete(id);
  }

  /** A client's response: routed to the call that relayed the request. False if none waits for it. */
  answer(session: Session, response: { id: RpcId; result?: unknown; error?: unknown }): boolean {
    const id = String(response.id);
    const pending = this.#requests.get(id);
    if (!pending || pending.sessionId !== session.id) return false;
    pending.relay.answer(id, response);
    return true;
  }

  /**
   * Records the session's level and returns the level to ask of the upstreams: the least severe
   * any session that `counts` wants (the preset's owner and members: one anonymous caller must not
   * make every upstream chatty), since every session shares each upstream's one session and the
   * gateway filters per session. Null for a session that does not count: leave the upstreams be.
   */
  setLogLevel(sessionId: string, level: LogLevel, counts: boolean): LogLevel | null {
    this.#levels.set(sessionId, { rank: LOG_LEVELS.indexOf(level), counts });
    if (!counts) return null;
    // This session counts, so there is at least one rank.
    const ranks = [...this.#levels.values()].filter((l) => l.counts).map((l) => l.rank);
    return LOG_LEVELS[Math.min(...ranks)]!;
  }

  /**
   * Log lines reach a session that asked for them with logging/setLevel, at or above its level.
   * A session that never did gets none, and its calls' replies stay plain JSON.
   */
  wantsLog(sessionId: string, level: unknown): boolean {
    const min = this.#levels.get(sessionId)?.rank;
    if (min === undefined) return false;
    const rank = isLogLevel(level) ? LOG_LEVELS.indexOf(level) : -1;
    return rank < 0 || rank >= min;
  }

  subscribe(sessionId: string, uri: string): void {
    const set = this.#subscriptions.get(sessionId) ?? new Set<string>();
    this.#subscriptions.set(sessionId, set);
    set.add(uri);
  }

  /** Drops the session's subscription (whether an upstream session is still held to it is the caller's question: notifications.ts). */
  unsubscribe(sessionId: string, uri: string): void {
    this.#subscriptions.get(sessionId)?.delete(uri);
  }

  /** Every URI some session subscribes to. */
  subscribedUris(): string[] {
    return [...new Set([...this.#subscriptions.values()].flatMap((uris) => [...uris]))];
  }

  subscriptionsOf(sessionId: string): string[] {
    return [...(this.#subscriptions.get(sessionId) ?? [])];
  }

  subscribers(uri: string): string[] {
    return [...this.#subscriptions].filter(([, uris]) => uris.has(uri)).map(([id]) => id);
  }

  /** A modern request is over: its log level goes, and its stream's log if it opened one (most do not: nothing to delete). */
  endStandIn(sessionId: string): void {
    this.#levels.delete(sessionId);
    if (this.#standInStreams.delete(sessionId)) this.endSession(sessionId);
  }

  /**
   * The session ended: its streams, log, level and subscriptions go. (Its calls in flight are
   * aborted by the object, which ends their streams and cancels what they wait for.)
   */
  endSession(sessionId: string): void {
    this.#standalone.get(sessionId)?.disconnect();
    this.#standalone.delete(sessionId);
    this.#listeners.delete(sessionId);
    this.#modern.delete(sessionId);
    for (const [id, stream] of this.#calls) if (stream.sessionId === sessionId) this.#calls.delete(id);
    for (const [id, pending] of this.#requests) if (pending.sessionId === sessionId) this.#requests.delete(id);
    this.#levels.delete(sessionId);
    this.#subscriptions.delete(sessionId);
    this.#log.dropSession(sessionId);
    this.#streamOpened(sessionId);
  }

  #connectStandalone(stream: ClientStream, afterSeq: number | null): ReadableStream<Uint8Array> {
    const body = stream.connect(afterSeq);
    const connection = stream.connection;
    // Bounded connections: the client comes back with Last-Event-ID (SSE polling) and loses nothing.
    setTimeout(() => {
      if (stream.connection === connection) stream.disconnect();
    }, STANDALONE_MAX_MS);
    return body;
  }
}
