/**
 * @module The SSE events a preset sent its clients, kept in the Durable Object's SQLite so a client whose
 * stream broke (or was closed by the gateway, SSE polling) can resume it with `Last-Event-ID` and
 * miss nothing, even across an object restart.
 *
 * Event ids are `<stream>.<seq>`: the stream id says which stream to resume (a POST's reply or the
 * session's standalone GET stream), seq where. A stream belongs to one session; resuming it from
 * another is refused. Bounded: a stream keeps its last MAX_EVENTS_PER_STREAM events, and events and
 * streams untouched for EVENT_TTL_MS are dropped.
 */
import { randomToken } from "../shared/ids";

export const EVENT_TTL_MS = 10 * 60_000;
export const MAX_EVENTS_PER_STREAM = 1_000;
const PURGE_EVERY_MS = 60_000;

export type StreamKind = "call" | "standalone";

export interface StreamInfo {
  id: string;
  sessionId: string;
  kind: StreamKind;
  /** The JSON-RPC id of the request whose reply this is (call streams). */
  requestId: string | number | null;
  /** The stream has sent everything it ever will (the call's answer). */
  done: boolean;
}

export interface LoggedEvent {
  id: string;
  data: string;
}

export class SseEventLog {
  readonly #sql: SqlStorage;
  readonly #seq = new Map<string, number>();
  #lastPurge = 0;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** Starts a stream; seq 0 is its priming event (no data), so real events start at 1. */
  open(sessionId: string, kind: StreamKind, requestId: string | number | null, now = Date.now()): string {
    this.#purge(now);
    const id = randomToken(16);
    this.#sql.exec("INSERT INTO sse_streams VALUES (?, ?, ?, ?, 0, ?)", id, sessionId, kind, requestId === null ? null : JSON.stringify(requestId), now);
    this.#seq.set(id, 0);
    return id;
  }

  /** Stores one event and returns its id. */
  append(streamId: string, data: string, now = Date.now()): string {
    const seq = this.#nextSeq(streamId);
    this.#sql.exec("INSERT INTO sse_events VALUES (?, ?, ?, ?)", streamId, seq, data, now);
    if (seq > MAX_EVENTS_PER_STREAM) this.#sql.exec("DELETE FROM sse_events WHERE stream_id = ? AND seq <= ?", streamId, seq - MAX_EVENTS_PER_STREAM);
    if (seq % 50 === 0) this.#sql.exec("UPDATE sse_streams SET touched_at = ? WHERE id = ?", now, streamId);
    return eventId(streamId, seq);
  }

  finish(streamId: string, now = Date.now()): void {
    this.#sql.exec("UPDATE sse_streams SET done = 1, touched_at = ? WHERE id = ?", now, streamId);
  }

  stream(streamId: string): StreamInfo | null {
    const row = this.#sql
      .exec<{ id: string; session_id: string; kind: StreamKind; request_id: string | null; done: number }>(
        "SELECT id, session_id, kind, request_id, done FROM sse_streams WHERE id = ?",
        streamId,
      )
      .toArray()[0];
    if (!row) return null;
    return {
      id: row.id,
      sessionId: row.session_id,
      kind: row.kind,
      requestId: row.request_id === null ? null : JSON.parse(row.request_id),
      done: row.done === 1,
    };
  }

  /** The stream's events after `seq`, oldest first. */
  after(streamId: string, seq: number): LoggedEvent[] {
    return this.#sql
      .exec<{ seq: number; data: string }>("SELECT seq, data FROM sse_events WHERE stream_id = ? AND seq > ? ORDER BY seq", streamId, seq)
      .toArray()
      .map((r) => ({ id: eventId(streamId, r.seq), data: r.data }));
  }

  /** Forgets every stream of a session (it ended). */
  dropSession(sessionId: string): void {
    for (const { id } of this.#sql.exec<{ id: string }>("SELECT id FROM sse_streams WHERE session_id = ?", sessionId).toArray()) {
      this.#sql.exec("DELETE FROM sse_events WHERE stream_id = ?", id);
      this.#seq.delete(id);
    }
    this.#sql.exec("DELETE FROM sse_streams WHERE session_id = ?", sessionId);
  }

  #nextSeq(streamId: string): number {
    let seq = this.#seq.get(streamId);
    if (seq === undefined) {
      seq = this.#sql.exec<{ m: number | null }>("SELECT MAX(seq) AS m FROM sse_events WHERE stream_id = ?", streamId).one().m ?? 0;
    }
    this.#seq.set(streamId, ++seq);
    return seq;
  }

  #purge(now: number): void {
    if (now - this.#lastPurge < PURGE_EVERY_MS) return;
    this.#lastPurge = now;
    const cutoff = now - EVENT_TTL_MS;
    this.#sql.exec("DELETE FROM sse_events WHERE at < ?", cutoff);
    for (const { id } of this.#sql.exec<{ id: string }>("SELECT id FROM sse_streams WHERE touched_at < ?", cutoff).toArray()) {
      // A stream still written to has recent events: keep it.
      const recent = this.#sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sse_events WHERE stream_id = ?", id).one().n;
      if (recent > 0) continue;
      this.#sql.exec("DELETE FROM sse_streams WHERE id = ?", id);
      this.#seq.delete(id);
    }
  }
}

export const eventId = (streamId: string, seq: number) => `${streamId}.${seq}`;

/** The stream and position a Last-Event-ID names, or null if it is not one of ours. */
export function parseEventId(value: string): { streamId: string; seq: number } | null {
  const match = /^([A-Za-z0-9_-]{8,64})\.(\d{1,9})$/.exec(value);
  return match ? { streamId: match[1]!, seq: Number(match[2]) } : null;
}
