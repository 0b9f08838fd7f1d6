/**
 * @module MCP sessions of one preset, in the Durable Object's SQLite storage so they survive the object
 * being evicted and restarted: a client keeps its Mcp-Session-Id across deploys and idle periods.
 * A session is bound to the caller that opened it and to the preset's id.
 *
 * What a caller can make the object hold is bounded: a session keeps only the capability flags the
 * gateway reads and a bounded client name (mcp/client-capabilities.ts); one caller (caller key)
 * holds at most SESSIONS_PER_CALLER live sessions (a new one ends its least recently used); the
 * preset holds at most SESSIONS_PER_PRESET (a new one ends the least recently used session idle
 * for SESSION_EVICTABLE_IDLE_MS, else it is refused); the in-memory cache is bounded by entries
 * and bytes. Every session that ends here (expired, evicted) is reported to `onEnded`, so what
 * the object keeps beside it (streams, log levels, subscriptions) goes too.
 */

import { CLIENT_NAME_MAX, keptCapabilities } from "../mcp/client-capabilities";
import type { ModernProtocolVersion, ProtocolVersion } from "../mcp/protocol";
import { randomToken } from "../shared/ids";
import type { UpstreamCaller } from "../upstream/session-scope";

export interface Session {
  id: string;
  presetId: string;
  /** Who opened it: `sessionOwner(userId)`. */
  principal: string;
  /** The caller key (policy/caller-key.ts) that opened it; null when it counts against no caller (no address known, or a session of an earlier release). */
  caller: string | null;
  /** A modern version only for the stand-in session of one modern-era request (never stored). */
  protocolVersion: ProtocolVersion | ModernProtocolVersion;
  clientName: string | null;
  /** The flags the gateway reads (mcp/client-capabilities.ts `keptCapabilities`), nothing else. */
  clientCapabilities: Record<string, unknown>;
  createdAt: number;
  lastSeen: number;
  /** The stand-in of one modern-era request (never stored): it has no budget of its own. */
  standIn?: true;
}

/** The downstream side of a request, as the upstream pool picks its upstream session by it (upstream/session-scope.ts). */
export const upstreamCallerOf = (session: Session, origin?: string): UpstreamCaller => ({
  sessionId: session.id,
  userId: sessionUser(session),
  capabilities: session.clientCapabilities,
  ...(session.standIn ? { ephemeral: true } : {}),
  ...(origin ? { origin } : {}),
});

/** The session whose own budget a request also counts against (anonymous legacy sessions): none for a modern request's stand-in. */
export const budgetOf = (session: Pick<Session, "id" | "standIn">): string | undefined => (session.standIn ? undefined : session.id);

/** The owner a session is bound to: the user, or `anon` for every anonymous caller. */
export function sessionOwner(userId: string | null): string {
  return userId ? `user:${userId}` : "anon";
}

/** The user a session is bound to (null for an anonymous session). */
export function sessionUser(session: Pick<Session, "principal">): string | null {
  return session.principal.startsWith("user:") ? session.principal.slice(5) : null;
}

/** Sessions idle longer than this are forgotten. */
export const SESSION_IDLE_MS = 24 * 60 * 60 * 1000;
/** Live sessions one caller may hold on a preset (room for a user running many agents at once); its next initialize ends its least recently used one. */
export const SESSIONS_PER_CALLER = 100;
/** Live sessions a preset holds; past this a new one needs a session idle this long to end, else it is refused. */
export const SESSIONS_PER_PRESET = 2_000;
export const SESSION_EVICTABLE_IDLE_MS = 5 * 60_000;
/** What a refused initialize tells the client to wait (Retry-After). */
export const SESSIONS_FULL_RETRY_S = 60;
const TOUCH_GRANULARITY_MS = 60_000;
const MEMORY_ENTRIES = 5_000;
const MEMORY_BYTES = 2 * 1024 * 1024;

type Row = {
  id: string;
  preset_id: string;
  principal: string;
  caller: string | null;
  protocol_version: string;
  client_name: string | null;
  capabilities: string;
  created_at: number;
  last_seen: number;
};

export interface SessionStoreHooks {
  /** A session ended here (expired or evicted): drop what is kept beside it. */
  onEnded(sessionId: string): void;
  /** Whether a session is in use though idle (it holds a stream open): not evicted as idle. */
  inUse(sessionId: string): boolean;
}

/** Why create refused: the preset holds SESSIONS_PER_PRESET sessions and none is idle enough to end. */
export interface SessionsFull {
  full: true;
  retryAfterSeconds: number;
}

/** The approximate bytes a cached session holds (UTF-16 strings plus object overhead). */
const sizeOf = (s: Session) =>
  256 +
  2 * (s.id.length + s.presetId.length + s.principal.length + (s.caller?.length ?? 0) + (s.clientName?.length ?? 0)) +
  2 * JSON.stringify(s.clientCapabilities).length;

export class SessionStore {
  readonly #sql: SqlStorage;
  readonly #hooks: SessionStoreHooks;
  readonly #cache = new Map<string, { session: Session; bytes: number }>();
  #cacheBytes = 0;
  #lastPurge = 0;

  constructor(sql: SqlStorage, hooks: SessionStoreHooks) {
    this.#sql = sql;
    this.#hooks = hooks;
  }

  /** A new session, after making room for it (see the module); SessionsFull when there is none. */
  create(s: Omit<Session, "id" | "createdAt" | "lastSeen">, now = Date.now()): Session | SessionsFull {
    if (now - this.#lastPurge >= TOUCH_GRANULARITY_MS) this.expire(now);
    if (s.caller !== null) {
      const mine = this.#sql.exec<{ id: string }>("SELECT id FROM sessions WHERE caller = ? ORDER BY last_seen, created_at", s.caller).toArray();
      for (const { id } of mine.slice(0, Math.max(0, mine.length - SESSIONS_PER_CALLER + 1))) this.end(id);
    }
    const count = this.#sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sessions").one().n;
    if (count >= SESSIONS_PER_PRESET) {
      const needed = count - SESSIONS_PER_PRESET + 1;
      const idle = this.#sql
        .exec<{ id: string }>("SELECT id FROM sessions WHERE last_seen <= ? ORDER BY last_seen LIMIT ?", now - SESSION_EVICTABLE_IDLE_MS, needed + 50)
        .toArray()
        .filter(({ id }) => !this.#hooks.inUse(id))
        .slice(0, needed);
      if (idle.length < needed) return { full: true, retryAfterSeconds: SESSIONS_FULL_RETRY_S };
      for (const { id } of idle) this.end(id);
    }
    const session: Session = {
      ...s,
      clientName: s.clientName?.slice(0, CLIENT_NAME_MAX) ?? null,
      clientCapabilities: keptCapabilities(s.clientCapabilities),
      id: randomToken(32),
      createdAt: now,
      lastSeen: now,
    };
    this.#sql.exec(
      `INSERT INTO sessions (id, preset_id, principal, caller, protocol_version, client_name, capabilities, created_at, last_seen)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      session.id,
      session.presetId,
      session.principal,
      session.caller,
      session.protocolVersion,
      session.clientName,
      JSON.stringify(session.clientCapabilities),
      now,
      now,
    );
    this.#remember(session);
    return session;
  }

  /** The live session with this id, refreshing its idle clock; null if unknown or expired. */
  get(id: string, now = Date.now()): Session | null {
    let session = this.#cache.get(id)?.session;
    if (!session) {
      const row = this.#sql.exec<Row>("SELECT * FROM sessions WHERE id = ?", id).toArray()[0];
      if (!row) return null;
      session = {
        id: row.id,
        presetId: row.preset_id,
        principal: row.principal,
        caller: row.caller ?? null,
        protocolVersion: row.protocol_version as ProtocolVersion,
        clientName: row.client_name?.slice(0, CLIENT_NAME_MAX) ?? null,
        // Rows of earlier releases may hold whatever the client declared: keep only the flags.
        clientCapabilities: keptCapabilities(JSON.parse(row.capabilities)),
        createdAt: row.created_at,
        lastSeen: row.last_seen,
      };
      this.#remember(session);
    }
    if (now - session.lastSeen > SESSION_IDLE_MS) {
      this.end(id);
      return null;
    }
    if (now - session.lastSeen > TOUCH_GRANULARITY_MS) {
      session.lastSeen = now;
      this.#sql.exec("UPDATE sessions SET last_seen = ? WHERE id = ?", now, id);
    }
    return session;
  }

  /** Ends a session its client asked to end (DELETE); the caller drops what it keeps beside it. */
  delete(id: string): boolean {
    this.#forget(id);
    return this.#sql.exec("DELETE FROM sessions WHERE id = ?", id).rowsWritten > 0;
  }

  /** Drops every session not of `presetId` (the preset was deleted and created again). */
  retainPreset(presetId: string): void {
    for (const { id } of this.#sql.exec<{ id: string }>("DELETE FROM sessions WHERE preset_id != ? RETURNING id", presetId).toArray()) {
      this.#forget(id);
      this.#hooks.onEnded(id);
    }
  }

  /** Ends the session here and tells the object (an expiry, an eviction, or access lost). */
  end(id: string): void {
    this.delete(id);
    this.#hooks.onEnded(id);
  }

  #forget(id: string): void {
    const cached = this.#cache.get(id);
    if (!cached) return;
    this.#cache.delete(id);
    this.#cacheBytes -= cached.bytes;
  }

  #remember(session: Session): void {
    this.#forget(session.id);
    const bytes = sizeOf(session);
    while (this.#cache.size > 0 && (this.#cache.size >= MEMORY_ENTRIES || this.#cacheBytes + bytes > MEMORY_BYTES)) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#forget(oldest);
    }
    this.#cache.set(session.id, { session, bytes });
    this.#cacheBytes += bytes;
  }

  /** Ends the sessions idle longer than SESSION_IDLE_MS (on a new session, and from the alarm). */
  expire(now = Date.now()): void {
    this.#lastPurge = now;
    for (const { id } of this.#sql.exec<{ id: string }>("DELETE FROM sessions WHERE last_seen < ? RETURNING id", now - SESSION_IDLE_MS).toArray()) {
      this.#forget(id);
      this.#hooks.onEnded(id);
    }
  }
}
