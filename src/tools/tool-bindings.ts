/**
 * @module Which server each exposed tool name of a preset stays with (issue 12, finding 3). With
 * plain naming (or a name given by an override) two upstreams can offer the same name; the first
 * server that served a name keeps it, so an upstream that adds a tool later can never take over
 * calls meant for another (tools/catalog.ts mergeCatalog decides, this module remembers). Kept in
 * the object's storage (`tool_bindings`, storage.ts), so a restart forgets nothing. A binding is
 * released when its server leaves the preset. At most MAX_TOOL_BINDINGS per preset: beyond that,
 * new names are served unbound (first server in name order), never refused.
 */

export const MAX_TOOL_BINDINGS = 10_000;

export class ToolBindings {
  readonly #sql: SqlStorage;
  /** The bindings of one preset (by id), loaded on first use. */
  #loaded: { presetId: string; map: Map<string, string> } | null = null;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** Exposed name → server name, for one preset. */
  of(presetId: string): ReadonlyMap<string, string> {
    return this.#map(presetId);
  }

  /** Binds names to servers and releases names; bindings of another preset id (the preset was recreated) go. */
  apply(presetId: string, bind: readonly (readonly [string, string])[], release: readonly string[], now = Date.now()): void {
    if (bind.length === 0 && release.length === 0) return;
    const map = this.#map(presetId);
    for (const name of release) {
      if (!map.delete(name)) continue;
      this.#sql.exec("DELETE FROM tool_bindings WHERE preset_id = ? AND name = ?", presetId, name);
    }
    for (const [name, server] of bind) {
      if (!map.has(name) && map.size >= MAX_TOOL_BINDINGS) continue;
      map.set(name, server);
      this.#sql.exec("INSERT OR REPLACE INTO tool_bindings (preset_id, name, server, bound_at) VALUES (?, ?, ?, ?)", presetId, name, server, now);
    }
  }

  #map(presetId: string): Map<string, string> {
    if (this.#loaded?.presetId === presetId) return this.#loaded.map;
    this.#sql.exec("DELETE FROM tool_bindings WHERE preset_id != ?", presetId);
    const map = new Map<string, string>();
    for (const row of this.#sql.exec<{ name: string; server: string }>("SELECT name, server FROM tool_bindings WHERE preset_id = ?", presetId)) {
      map.set(row.name, row.server);
    }
    this.#loaded = { presetId, map };
    return map;
  }
}
