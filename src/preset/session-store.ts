/**
 * @module MCP sessions of one preset, in the Durable Object's SQLite storage so they survive the object
 * being evicted and restarted: a client keeps its Mcp-Session-Id across deploys and idle periods.
 * A session is bound to the caller that opened it and to the preset's id.
 */

import type { ProtocolVersion } from "../mcp/protocol";
import { randomToken } from "../shared/ids";

export interface Session {
  id: string;
  presetId: string;
  /** Who opened it: `sessionOwner(userId)`. */
  principal: string;
  protocolVersion: ProtocolVersion;
  clientName: string | null;
  clientCapabilities: Record<string, unknown>;
  createdAt: number;
  lastSeen: number;
}

/** The owner a session is bound to: the user, or `anon` for every anonymous caller. */
export function sessionOwner(userId: string | null): string {
  return userId ? `user:${userId}` : "anon";
}

/** Sessions idle longer than this are forgotten. */
export const SESSION_IDLE_MS = 24 * 60 * 60 * 1000;
const TOUCH_GRANULARITY_MS = 60_000;
const MEMORY_LIMIT = 5_000;

type Row = {
  id: string;
  preset_id: string;
  principal: string;
  protocol_version: string;
  client_name: string | null;
  capabilities: string;
  created_at: number;
  last_seen: number;
};

export class SessionStore {
  readonly #sql: SqlStorage;
  readonly #cache = new Map<string, Session>();
  #lastPurge = 0;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  create(s: Omit<Session, "id" | "createdAt" | "lastSeen">, now = Date.now()): Session {
    this.#purgeExpired(now);
    const session: Session = { ...s, id: randomToken(32), createdAt: now, lastSeen: now };
    this.#sql.exec(
      "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      session.id,
      session.presetId,
      session.principal,
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
    let session = this.#cache.get(id);
    if (!session) {
      const row = this.#sql.exec<Row>("SELECT * FROM sessions WHERE id = ?", id).toArray()[0];
      if (!row) return null;
      session = {
        id: row.id,
        presetId: row.preset_id,
        principal: row.principal,
        protocolVersion: row.protocol_version as ProtocolVersion,
        clientName: row.client_name,
        clientCapabilities: JSON.parse(row.capabilities) as Record<string, unknown>,
        createdAt: row.created_at,
        lastSeen: row.last_seen,
      };
      this.#remember(session);
    }
    if (now - session.lastSeen > SESSION_IDLE_MS) {
      this.delete(id);
      return null;
    }
    if (now - session.lastSeen > TOUCH_GRANULARITY_MS) {
      session.lastSeen = now;
      this.#sql.exec("UPDATE sessions SET last_seen = ? WHERE id = ?", now, id);
    }
    return session;
  }

  delete(id: string): boolean {
    this.#cache.delete(id);
    return this.#sql.exec("DELETE FROM sessions WHERE id = ?", id).rowsWritten > 0;
  }

  /** Drops every session not of `presetId` (the preset was deleted and created again). */
  retainPreset(presetId: string): void {
    for (const [id, s] of this.#cache) if (s.presetId !== presetId) this.#cache.delete(id);
    this.#sql.exec("DELETE FROM sessions WHERE preset_id != ?", presetId);
  }

  #remember(session: Session): void {
    if (this.#cache.size >= MEMORY_LIMIT) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(session.id, session);
  }

  #purgeExpired(now: number): void {
    if (now - this.#lastPurge < TOUCH_GRANULARITY_MS) return;
    this.#lastPurge = now;
    this.#sql.exec("DELETE FROM sessions WHERE last_seen < ?", now - SESSION_IDLE_MS);
  }
}
