/**
 * @module The upstreams' tool lists in a preset object's storage, so a restarted object serves its
 * catalog without asking. SQLite refuses a value over 2 MB (SQLITE_TOOBIG), and a 2,500-tool
 * upstream lists 3 MB, so a list is stored as its JSON text cut into chunks of CHUNK_CHARS:
 * `upstream_tools` keeps one row per server (fingerprint, fetch time, and the whole JSON when it
 * fits in one chunk, else `[]`), `upstream_tool_chunks` the pieces of a bigger one (storage.ts).
 * A list over MAX_STORED_CHARS is kept in memory only. Storage failures are thrown to the caller,
 * which must not blame the upstream for them.
 */
import type { Tool } from "./client";

/** At most 3 bytes of UTF-8 per UTF-16 code unit: 1.5 MB per chunk, under SQLite's 2 MB. */
export const CHUNK_CHARS = 500_000;
/** A tool list longer than this (as JSON) is not stored: the object asks again after a restart. */
export const MAX_STORED_CHARS = 32 * 1024 * 1024;

export interface StoredTools {
  fingerprint: string;
  tools: Tool[];
  fetchedAt: number;
}

/** Cuts `text` into pieces of at most `size` code units, never between the halves of a surrogate pair. */
export function chunkText(text: string, size = CHUNK_CHARS): string[] {
  const chunks: string[] = [];
  for (let at = 0; at < text.length; ) {
    let end = Math.min(at + size, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    chunks.push(text.slice(at, end));
    at = end;
  }
  return chunks;
}

export class ToolStore {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** Stores a server's tool list; false if it is too big to store. Throws on a storage failure. */
  write(serverId: string, list: StoredTools): boolean {
    const json = JSON.stringify(list.tools);
    this.delete(serverId);
    if (json.length > MAX_STORED_CHARS) return false;
    const chunks = chunkText(json);
    const inline = chunks.length <= 1;
    if (!inline)
      chunks.forEach((data, seq) => {
        this.#sql.exec("INSERT INTO upstream_tool_chunks (server_id, seq, fetched_at, data) VALUES (?, ?, ?, ?)", serverId, seq, list.fetchedAt, data);
      });
    this.#sql.exec("INSERT OR REPLACE INTO upstream_tools VALUES (?, ?, ?, ?)", serverId, list.fingerprint, inline ? json : "[]", list.fetchedAt);
    return true;
  }

  /** The stored list of a server, or null if none is stored (or it was stored for another fingerprint). */
  read(serverId: string, fingerprint: string): StoredTools | null {
    const row = this.#sql
      .exec<{ fingerprint: string; tools: string; fetched_at: number }>(
        "SELECT fingerprint, tools, fetched_at FROM upstream_tools WHERE server_id = ?",
        serverId,
      )
      .toArray()[0];
    if (!row || row.fingerprint !== fingerprint) return null;
    // Chunks belong to the row written with them (same fetch time): a row another release wrote inline wins.
    const chunks = this.#sql
      .exec<{ data: string }>("SELECT data FROM upstream_tool_chunks WHERE server_id = ? AND fetched_at = ? ORDER BY seq", serverId, row.fetched_at)
      .toArray()
      .map((c) => c.data);
    const tools = JSON.parse(chunks.length > 0 ? chunks.join("") : row.tools) as Tool[];
    return { fingerprint: row.fingerprint, tools, fetchedAt: row.fetched_at };
  }

  /** Deletes every list of a server (one per capability profile: `<server id>#<profile>`). */
  deleteServer(serverId: string): void {
    const prefix = `${serverId}#`;
    this.#sql.exec("DELETE FROM upstream_tool_chunks WHERE server_id = ? OR substr(server_id, 1, ?) = ?", serverId, prefix.length, prefix);
    this.#sql.exec("DELETE FROM upstream_tools WHERE server_id = ? OR substr(server_id, 1, ?) = ?", serverId, prefix.length, prefix);
  }

  delete(serverId: string): void {
    this.#sql.exec("DELETE FROM upstream_tool_chunks WHERE server_id = ?", serverId);
    this.#sql.exec("DELETE FROM upstream_tools WHERE server_id = ?", serverId);
  }
}
