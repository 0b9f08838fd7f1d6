/**
 * @module Everything a preset's Durable Object keeps in its own storage, in one place: the SQLite
 * tables and KV prefixes, the schema version, and the ordered migrations that bring an object
 * written by any earlier release up to date. The object opens its storage before it serves
 * anything (`openStorage`, inside `blockConcurrencyWhile`); the modules that use a table assume it
 * exists with the latest layout and never create or alter one themselves.
 *
 * SQLite tables (schema version 6; `storage_version` holds the version):
 *
 * | table (indexes)                      | what a row is                                                                 | used by                      |
 * | ------------------------------------ | ----------------------------------------------------------------------------- | ---------------------------- |
 * | `sessions` (`sessions_last_seen`, `sessions_caller`) | an MCP session: preset id, owner, caller key, protocol version, client name, the capability flags kept | preset/session-store.ts |
 * | `sse_streams`                        | an SSE stream to a client (a call's reply or a standalone GET stream)          | streaming/sse-event-log.ts   |
 * | `sse_events` (`sse_events_at`)       | one event of a stream, for Last-Event-ID resumption (10 min, 1,000 per stream) | streaming/sse-event-log.ts   |
 * | `upstream_profiles`                  | an upstream's capabilities and instructions from its last initialize          | upstream/pool.ts             |
 * | `upstream_tools`                     | an upstream's tool list (served when the object restarts); `[]` when chunked | upstream/tool-store.ts       |
 * | `upstream_tool_chunks`               | a piece (500,000 characters) of the JSON of a tool list too big for one row  | upstream/tool-store.ts       |
 * | `usage_pending`                      | usage rollup counts not yet flushed to D1, per flush id and rollup key         | usage/recorder.ts            |
 * | `tool_bindings`                      | which server an exposed tool name (plain or renamed) stays with (10,000 max)  | tools/tool-bindings.ts       |
 * | `catalog_audits` (`catalog_audits_at`) | a refused or shadowed item already audited: server, kind, name, when (24 h) | tools/catalog-audit.ts       |
 * | `item_pins`                          | the pinned definition (and its hash) of a server's tool, prompt or template  | pinning/pin-board.ts         |
 * | `item_held`                          | an item held for the owner's review: the new definition, its diff, rejected?  | pinning/pin-board.ts         |
 * | `pin_baselines`                      | the selection a server's pins of one kind were taken under                    | pinning/pin-board.ts         |
 * | `rate_hits` (`rate_hits_key_at`)     | one hit of a sliding rate-limit window `<scope>|<caller>` (`<caller>` may be `session:<id>`: deleted with the session) | policy/rate-limits.ts |
 *
 * KV (`ctx.storage`, one key per item; the owning module sees its keys without the prefix):
 *
 * | prefix           | value                                              | used by                  |
 * | ---------------- | -------------------------------------------------- | ------------------------ |
 * | `rl:<scope>|<caller>` | (before version 6) hit times of one rate-limit window; moved to `rate_hits` | storage.ts |
 * | `br:<server id>` | a circuit breaker's snapshot                       | policy/breaker-board.ts  |
 * | `rg:<grant id>`  | a revoked OAuth grant: until when to refuse it     | preset/admission.ts      |
 * | `ur:<server id>` | an upstream announced unreachable (upstream.unreachable): since when | preset/alert-detectors.ts |
 *
 * The version lives in the one-row table `storage_version` (SQLite's `PRAGMA user_version` would be
 * the natural place, but Durable Objects refuse it with SQLITE_AUTH). No row means version 0: an
 * object of a release before this module existed, whose tables each module's constructor created
 * (IF NOT EXISTS).
 *
 * Changing the layout: append a migration to MIGRATIONS (never edit one that has shipped), with
 * the change written out literally (not derived from code that may change again), and update the
 * tables above. A column the code needs but no migration adds fails the storage test.
 */

/** The rollup count columns as release 0.1.0 created them (COUNT_COLUMNS of usage/rollup.ts at the time). */
const COUNT_COLUMNS_V1 = [
  "calls",
  "ok",
  "tool_error",
  "upstream_error",
  "timeout",
  "rate_limited",
  "breaker_open",
  "denied",
  "cancelled",
  "latency_count",
  "latency_sum",
  "request_bytes",
  "response_bytes",
  ...Array.from({ length: 17 }, (_, i) => `h${String(i).padStart(2, "0")}`),
  "latency_max",
];

/** MIGRATIONS[n] brings version n to n + 1. */
const MIGRATIONS: readonly ((sql: SqlStorage, storage: DurableObjectStorage) => void)[] = [
  // 0 → 1: the layout every module created for itself before storage was versioned. IF NOT EXISTS,
  // so an object of that release keeps its tables and rows, and a new object gets them.
  (sql) => {
    sql.exec(`CREATE TABLE IF NOT EXISTS sessions (
      id TEXT PRIMARY KEY, preset_id TEXT NOT NULL, principal TEXT NOT NULL, protocol_version TEXT NOT NULL,
      client_name TEXT, capabilities TEXT NOT NULL, created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL)`);
    sql.exec("CREATE INDEX IF NOT EXISTS sessions_last_seen ON sessions(last_seen)");
    sql.exec(`CREATE TABLE IF NOT EXISTS sse_streams (
      id TEXT PRIMARY KEY, session_id TEXT NOT NULL, kind TEXT NOT NULL, request_id TEXT,
      done INTEGER NOT NULL DEFAULT 0, touched_at INTEGER NOT NULL)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS sse_events (
      stream_id TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, at INTEGER NOT NULL,
      PRIMARY KEY (stream_id, seq))`);
    sql.exec("CREATE INDEX IF NOT EXISTS sse_events_at ON sse_events(at)");
    sql.exec("CREATE TABLE IF NOT EXISTS upstream_profiles (server_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, profile TEXT NOT NULL)");
    sql.exec(`CREATE TABLE IF NOT EXISTS upstream_tools (
      server_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, tools TEXT NOT NULL, fetched_at INTEGER NOT NULL)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS usage_pending_v1 (
      flush_id TEXT NOT NULL, preset_id TEXT NOT NULL, bucket_start INTEGER NOT NULL, tool TEXT NOT NULL,
      upstream TEXT NOT NULL, caller TEXT NOT NULL, ${COUNT_COLUMNS_V1.map((c) => `${c} INTEGER NOT NULL DEFAULT 0`).join(", ")},
      PRIMARY KEY (flush_id, preset_id, bucket_start, tool, upstream, caller))`);
  },
  // 1 → 2: the pending rollups lose the "_v1" suffix, which stood in for a schema version.
  (sql) => {
    sql.exec("ALTER TABLE usage_pending_v1 RENAME TO usage_pending");
  },
  // 2 → 3: which refused or shadowed tools and prompts were audited in the last 24 h, which
  // server each plain (or renamed) tool name is bound to, and tool lists too big for one row.
  (sql) => {
    sql.exec(
      "CREATE TABLE IF NOT EXISTS upstream_tool_chunks (server_id TEXT NOT NULL, seq INTEGER NOT NULL, fetched_at INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (server_id, seq))",
    );
    sql.exec(`CREATE TABLE IF NOT EXISTS tool_bindings (
      preset_id TEXT NOT NULL, name TEXT NOT NULL, server TEXT NOT NULL, bound_at INTEGER NOT NULL, PRIMARY KEY (preset_id, name))`);
    sql.exec(`CREATE TABLE IF NOT EXISTS catalog_audits (
      server TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (server, kind, name))`);
    sql.exec("CREATE INDEX IF NOT EXISTS catalog_audits_at ON catalog_audits(at)");
  },
  // 3 → 4: a session remembers the caller key that opened it (sessions per caller are capped).
  // Sessions of earlier releases keep NULL and count against no caller until they expire; those
  // that stored a client's whole capabilities object beyond 4 KiB (the oversized-initialize
  // attack) are dropped, their clients initialize again.
  (sql) => {
    sql.exec("DELETE FROM sessions WHERE length(capabilities) > 4096");
    sql.exec("ALTER TABLE sessions ADD COLUMN caller TEXT");
    sql.exec("CREATE INDEX IF NOT EXISTS sessions_caller ON sessions(caller, last_seen)");
  },
  // 4 → 5: tool pinning — what the owner approved of each server's tools, prompts and resource
  // templates, what is held for their review, and the selection each server's pins were taken under.
  (sql) => {
    sql.exec(`CREATE TABLE IF NOT EXISTS item_pins (
      preset_id TEXT NOT NULL, server_id TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
      hash TEXT NOT NULL, definition TEXT NOT NULL, pinned_at INTEGER NOT NULL,
      PRIMARY KEY (preset_id, server_id, kind, name))`);
    sql.exec(`CREATE TABLE IF NOT EXISTS item_held (
      preset_id TEXT NOT NULL, server_id TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
      change TEXT NOT NULL, hash TEXT NOT NULL, definition TEXT NOT NULL, diff TEXT NOT NULL,
      detected_at INTEGER NOT NULL, rejected_at INTEGER,
      PRIMARY KEY (preset_id, server_id, kind, name))`);
    sql.exec(`CREATE TABLE IF NOT EXISTS pin_baselines (
      preset_id TEXT NOT NULL, server_id TEXT NOT NULL, kind TEXT NOT NULL, selection TEXT NOT NULL, taken_at INTEGER NOT NULL,
      PRIMARY KEY (preset_id, server_id, kind))`);
  },
  // 5 → 6: rate-limit hits move from one KV value per window (rewritten whole on each write, and
  // over the 128 KiB value limit past ~16,000 hits) to one row per hit, appended as calls are made.
  (sql, storage) => {
    sql.exec("CREATE TABLE IF NOT EXISTS rate_hits (key TEXT NOT NULL, at INTEGER NOT NULL)");
    sql.exec("CREATE INDEX IF NOT EXISTS rate_hits_key_at ON rate_hits(key, at)");
    for (const [key, hits] of storage.kv.list({ prefix: "rl:" })) {
      if (Array.isArray(hits)) for (const at of hits) if (Number.isFinite(at)) sql.exec("INSERT INTO rate_hits (key, at) VALUES (?, ?)", key.slice(3), at);
      storage.kv.delete(key);
    }
  },
];

/** The schema version this release writes. */
export const STORAGE_VERSION = MIGRATIONS.length;

/** What opening the storage did: the version found, and the one it is at now. */
export interface StorageOpened {
  from: number;
  to: number;
}

/**
 * Migrates the object's storage to STORAGE_VERSION, one migration per transaction (a failure
 * leaves the last complete version, and the next start retries). Storage written by a newer
 * release (a rollback) is left as it is: migrations only add, so older code still finds what it
 * needs, and going down would lose data.
 */
export function openStorage(storage: DurableObjectStorage): StorageOpened {
  const sql = storage.sql;
  sql.exec("CREATE TABLE IF NOT EXISTS storage_version (version INTEGER NOT NULL)");
  const from = storageVersion(sql);
  if (from > STORAGE_VERSION) {
    console.warn(`preset storage is at version ${from}, newer than this release's ${STORAGE_VERSION}; leaving it as it is`);
    return { from, to: from };
  }
  for (let v = from; v < STORAGE_VERSION; v++) {
    storage.transactionSync(() => {
      MIGRATIONS[v]!(sql, storage);
      sql.exec("DELETE FROM storage_version");
      sql.exec("INSERT INTO storage_version (version) VALUES (?)", v + 1);
    });
  }
  return { from, to: storageVersion(sql) };
}

/** The schema version of the object's storage (0 when none was ever written). */
export function storageVersion(sql: SqlStorage): number {
  return sql.exec<{ version: number }>("SELECT version FROM storage_version").toArray()[0]?.version ?? 0;
}

/** KV prefixes, one per owner (see the table above). */
export const KV_PREFIX = { breakers: "br:", revokedGrants: "rg:", unreachable: "ur:" } as const;

/**
 * The KV keys of one owner, under its prefix: what was stored when the object started, and writes
 * that by default do not hold the response for the disk (`allowUnconfirmed`): losing the last write
 * to a crash costs a counter or a breaker snapshot, never a reply. Writes that must be durable
 * before the object answers (a grant revocation) pass `allowUnconfirmed: false`.
 */
export interface KvSlice {
  /** The values stored when the object started, by key without the prefix. */
  readonly stored: ReadonlyMap<string, unknown>;
  put(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<boolean>;
}

export function kvSlice(storage: DurableObjectStorage, prefix: string, opts: { allowUnconfirmed: boolean } = { allowUnconfirmed: true }): KvSlice {
  const stored = new Map<string, unknown>();
  for (const [key, value] of storage.kv.list({ prefix })) stored.set(key.slice(prefix.length), value);
  return {
    stored,
    put: (key, value) => storage.put(prefix + key, value, opts),
    delete: (key) => storage.delete(prefix + key),
  };
}
