/**
 * @module Tool pinning in a preset's Durable Object: what the owner approved of each attached
 * server's tools, prompts and resource templates, and what is held for their review.
 *
 * A pin is taken when an item becomes exposed by an owner's action: the first list of a server the
 * object sees after the server was attached, its selection changed or pinning was turned on (the
 * *baseline*: every selected item of that list is pinned), or an approval. From then on every list
 * an upstream sends is admitted item by item against the pins:
 * - same definition as pinned: served;
 * - another definition: **held** (not listed, not callable) until the owner approves or rejects it,
 *   audited and alerted once per new definition (`tool.drifted`, with a readable diff);
 * - an item with no pin (new upstream, or a new name on a server selected with `tools: null`):
 *   pinned and served under the preset's `newTools: "expose"`, held under `"hold"` (the default);
 *   audited either way (`tool.added`), alerted when held;
 * - a pinned item missing from a list: audited (`tool.removed`, at most once per 24 h), the pin kept
 *   (it comes back as it was, or is held if it comes back changed).
 * Admission is memoized per list array (the pool keeps one array per distinct list) and pins are
 * read from the object's SQLite: a warm tools/list or tools/call costs a WeakMap lookup.
 * Storage (storage.ts): `item_pins`, `item_held`, `pin_baselines`, keyed by preset id, server id,
 * kind and item key.
 */
import type { PresetConfig, PresetServer } from "../preset/config";
import { canonicalJson, type DefinitionDiff, definitionDiff, definitionOf, itemKey, type JsonObject, type PinKind, pinHash } from "./canonical";

/** The JSON-RPC error message for a call of a held item. */
export function heldMessage(kind: PinKind, name: string): string {
  const what = kind === "tool" ? "Tool" : kind === "prompt" ? "Prompt" : "Resource template";
  return `${what} '${name}' changed upstream (or is new) and is held for the preset owner's review; it can be used again once they approve it.`;
}

/** A held item as the review API shows it. */
export interface HeldItem {
  server: string;
  kind: PinKind;
  name: string;
  change: "changed" | "added";
  detectedAt: number;
  /** When the owner rejected this definition (it stays held; no further alert for it). */
  rejectedAt: number | null;
  /** The pinned definition (null for a new item) and the one the upstream lists now. */
  pinned: JsonObject | null;
  current: JsonObject;
  diff: DefinitionDiff;
}

/** What admission noticed, for the audit trail and alerts. */
export type PinEvent =
  | { type: "tool.drifted"; server: string; kind: PinKind; name: string; diff: DefinitionDiff }
  | { type: "tool.added"; server: string; kind: PinKind; name: string; held: boolean; diff: DefinitionDiff }
  | { type: "tool.removed"; server: string; kind: PinKind; name: string };

/** Names an item to approve or reject (null kind: any). */
export interface ItemPick {
  server: string;
  name: string;
  kind?: PinKind;
}

type Item = Record<string, unknown>;

interface Admitted {
  version: number;
  config: PresetConfig;
  server: PresetServer;
  /** Keys of the selected items served. */
  served: Set<string>;
  /** The list without the held items. */
  admitted: readonly object[];
}

/** The selection that governs a kind of item on a server (null: everything). */
function selectionOf(server: PresetServer, kind: PinKind): readonly string[] | null {
  return kind === "tool" ? server.selection : kind === "prompt" ? server.promptSelection : server.resourceSelection;
}

const selects = (selection: readonly string[] | null, key: string) => selection === null || selection.includes(key);

export class PinBoard {
  readonly #sql: SqlStorage;
  readonly #report: (config: PresetConfig, event: PinEvent) => void;
  readonly #changed: () => void;
  /** Admission results by list array, valid while `version` and the configuration objects are the same. */
  readonly #admitted = new WeakMap<object, Admitted>();
  /** Each item's pin hash, by item object (an array's items are computed once). */
  readonly #hashes = new WeakMap<object, string>();
  /**
   * When each list array was first admitted. An upstream that changes a tool leaves older lists
   * behind (another profile's, a session's not listed again yet): an older list showing the pinned
   * definition does not mean the upstream went back to it.
   */
  readonly #firstSeen = new WeakMap<object, number>();
  /** Held items of the preset now served (`<server id>\0<kind>\0<key>`), for routing without a list. */
  #held: { presetId: string; keys: Set<string> } | null = null;
  /** Presets whose pins were forgotten because pinning is off (so this happens once per object). */
  readonly #cleared = new Set<string>();
  #version = 0;

  /** `report` audits (and alerts) what admission noticed; `changed` is told when what is held or pinned changed outside an owner's action. */
  constructor(sql: SqlStorage, opts: { report: (config: PresetConfig, event: PinEvent) => void; changed: () => void }) {
    this.#sql = sql;
    this.#report = opts.report;
    this.#changed = opts.changed;
  }

  #hashOf(kind: PinKind, item: Item): string {
    let hash = this.#hashes.get(item);
    if (hash === undefined) {
      hash = pinHash(definitionOf(kind, item));
      this.#hashes.set(item, hash);
    }
    return hash;
  }

  /**
   * The items of `items` (one upstream list of `kind`) a client may be shown: selected items whose
   * definition is pinned, and items the selection leaves out (the catalog drops those itself).
   */
  admit<T extends object>(config: PresetConfig, server: PresetServer, kind: PinKind, items: readonly T[]): readonly T[] {
    if (config.pinning === "off") {
      this.#forget(config.id);
      return items;
    }
    return this.#admission(config, server, kind, items).admitted as readonly T[];
  }

  /**
   * Whether a selected item of a list is served, held for review, or not in the list: for routing
   * a call (tools/call, prompts/get) without building the catalog.
   */
  verdict(config: PresetConfig, server: PresetServer, kind: PinKind, items: readonly object[], key: string): "served" | "held" | "absent" {
    if (config.pinning === "off") return items.some((i) => itemKey(kind, i as Item) === key) ? "served" : "absent";
    if (this.#admission(config, server, kind, items).served.has(key)) return "served";
    return this.isHeld(config, server, kind, key) ? "held" : "absent";
  }

  /**
   * Releases held items that `items` (the server's latest list) shows as pinned again: the upstream
   * went back to what the owner approved, so nothing is left to review. Only the latest list may
   * say so: an older one (another session's) still showing the pinned definition does not.
   */
  settle(config: PresetConfig, server: PresetServer, kind: PinKind, items: readonly object[], listedAt: number): void {
    if (config.pinning === "off") return;
    const prefix = `${server.id}\0${kind}\0`;
    const keys = this.#heldKeys(config.id);
    if (keys.size === 0 || ![...keys].some((k) => k.startsWith(prefix))) return;
    const pinned = this.#sql.exec<{ name: string; hash: string; detected_at: number }>(
      `SELECT h.name, p.hash, h.detected_at FROM item_held h JOIN item_pins p ON p.preset_id = h.preset_id AND p.server_id = h.server_id AND p.kind = h.kind AND p.name = h.name
       WHERE h.preset_id = ? AND h.server_id = ? AND h.kind = ?`,
      config.id,
      server.id,
      kind,
    );
    let released = false;
    for (const { name, hash, detected_at } of pinned) {
      if (listedAt <= detected_at) continue;
      const item = items.find((i) => itemKey(kind, i as Item) === name);
      if (!item || this.#hashOf(kind, item as Item) !== hash) continue;
      this.#sql.exec("DELETE FROM item_held WHERE preset_id = ? AND server_id = ? AND kind = ? AND name = ?", config.id, server.id, kind, name);
      released = true;
    }
    if (released) {
      this.#touched();
      queueMicrotask(this.#changed);
    }
  }

  /** Whether the item is held for the owner's review (by any list it was seen in). */
  isHeld(config: PresetConfig, server: PresetServer, kind: PinKind, key: string): boolean {
    if (config.pinning === "off") return false;
    return this.#heldKeys(config.id).has(`${server.id}\0${kind}\0${key}`);
  }

  #heldKeys(presetId: string): Set<string> {
    if (this.#held?.presetId !== presetId) {
      const rows = this.#sql.exec<{ server_id: string; kind: string; name: string }>(
        "SELECT server_id, kind, name FROM item_held WHERE preset_id = ?",
        presetId,
      );
      this.#held = { presetId, keys: new Set([...rows].map((r) => `${r.server_id}\0${r.kind}\0${r.name}`)) };
    }
    return this.#held.keys;
  }

  #admission(config: PresetConfig, server: PresetServer, kind: PinKind, items: readonly object[]): Admitted {
    const memo = this.#admitted.get(items);
    if (memo && memo.version === this.#version && memo.config === config && memo.server === server) return memo;
    const version = this.#version;
    let seen = this.#firstSeen.get(items);
    if (seen === undefined) {
      seen = Date.now();
      this.#firstSeen.set(items, seen);
    }
    const served = this.#admit(config, server, kind, items as readonly Item[], seen);
    const selection = selectionOf(server, kind);
    const kept = items.filter((item) => {
      const key = itemKey(kind, item as Item);
      return !key || !selects(selection, key) || served.has(key);
    });
    const admitted = { version, config, server, served, admitted: kept.length === items.length ? items : kept };
    // Admitting this list may have changed what others admit (a new pin): then it is not kept either.
    if (version === this.#version) this.#admitted.set(items, admitted);
    return admitted;
  }

  #admit(config: PresetConfig, server: PresetServer, kind: PinKind, items: readonly Item[], firstSeen: number): Set<string> {
    const presetId = config.id;
    const selection = selectionOf(server, kind);
    const selectionKey = canonicalJson(selection);
    const now = Date.now();
    const scope = [presetId, server.id, kind] as const;
    const baseline = this.#sql
      .exec<{ selection: string }>("SELECT selection FROM pin_baselines WHERE preset_id = ? AND server_id = ? AND kind = ?", ...scope)
      .toArray()[0];
    const ownerAction = baseline?.selection !== selectionKey;
    const pins = new Map(
      [...this.#sql.exec<{ name: string; hash: string }>("SELECT name, hash FROM item_pins WHERE preset_id = ? AND server_id = ? AND kind = ?", ...scope)].map(
        (r) => [r.name, r.hash],
      ),
    );
    const held = new Map<string, string>();
    const detectedAt = new Map<string, number>();
    for (const r of this.#sql.exec<{ name: string; hash: string; detected_at: number }>(
      "SELECT name, hash, detected_at FROM item_held WHERE preset_id = ? AND server_id = ? AND kind = ?",
      ...scope,
    )) {
      held.set(r.name, r.hash);
      detectedAt.set(r.name, r.detected_at);
    }
    const served = new Set<string>();
    const listed = new Set<string>();
    const events: PinEvent[] = [];
    let heldChanged = false;
    let pinsAdded = false;
    const pin = (key: string, hash: string, def: Item) => {
      this.#sql.exec(
        "INSERT OR REPLACE INTO item_pins (preset_id, server_id, kind, name, hash, definition, pinned_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ...scope,
        key,
        hash,
        JSON.stringify(def),
        now,
      );
      pins.set(key, hash);
    };
    const hold = (key: string, change: "changed" | "added", hash: string, def: Item, diff: DefinitionDiff) => {
      this.#sql.exec(
        "INSERT OR REPLACE INTO item_held (preset_id, server_id, kind, name, change, hash, definition, diff, detected_at, rejected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        ...scope,
        key,
        change,
        hash,
        JSON.stringify(def),
        JSON.stringify(diff),
        now,
      );
      held.set(key, hash);
      heldChanged = true;
    };
    for (const item of items) {
      const key = itemKey(kind, item);
      if (!key || !selects(selection, key) || listed.has(key)) continue;
      listed.add(key);
      const hash = this.#hashOf(kind, item);
      const pinned = pins.get(key);
      if (pinned === hash) {
        served.add(key);
        if (held.has(key) && firstSeen > (detectedAt.get(key) ?? Number.POSITIVE_INFINITY)) {
          // The upstream went back to what the owner approved: nothing is left to review.
          this.#sql.exec("DELETE FROM item_held WHERE preset_id = ? AND server_id = ? AND kind = ? AND name = ?", ...scope, key);
          held.delete(key);
          heldChanged = true;
        }
        continue;
      }
      const def = definitionOf(kind, item);
      if (pinned === undefined) {
        if (ownerAction || config.newTools === "expose") {
          pin(key, hash, def);
          served.add(key);
          if (!ownerAction) {
            pinsAdded = true;
            events.push({ type: "tool.added", server: server.name, kind, name: key, held: false, diff: definitionDiff(null, def) });
          }
        } else if (held.get(key) !== hash) {
          const diff = definitionDiff(null, def);
          hold(key, "added", hash, def, diff);
          events.push({ type: "tool.added", server: server.name, kind, name: key, held: true, diff });
        }
        continue;
      }
      if (held.get(key) !== hash) {
        const before = this.#sql
          .exec<{ definition: string }>("SELECT definition FROM item_pins WHERE preset_id = ? AND server_id = ? AND kind = ? AND name = ?", ...scope, key)
          .one().definition;
        const diff = definitionDiff(JSON.parse(before) as Item, def);
        hold(key, "changed", hash, def, diff);
        events.push({ type: "tool.drifted", server: server.name, kind, name: key, diff });
      }
    }
    if (ownerAction) {
      // What the owner no longer selects is no longer pinned: selected again later, it is pinned as it is then.
      for (const key of [...pins.keys(), ...held.keys()]) {
        if (selects(selection, key)) continue;
        this.#sql.exec("DELETE FROM item_pins WHERE preset_id = ? AND server_id = ? AND kind = ? AND name = ?", ...scope, key);
        if (held.delete(key)) {
          this.#sql.exec("DELETE FROM item_held WHERE preset_id = ? AND server_id = ? AND kind = ? AND name = ?", ...scope, key);
          heldChanged = true;
        }
      }
      this.#sql.exec(
        "INSERT OR REPLACE INTO pin_baselines (preset_id, server_id, kind, selection, taken_at) VALUES (?, ?, ?, ?, ?)",
        ...scope,
        selectionKey,
        now,
      );
      this.#cleared.delete(presetId);
    } else {
      for (const key of pins.keys())
        if (!listed.has(key) && selects(selection, key)) events.push({ type: "tool.removed", server: server.name, kind, name: key });
    }
    if (heldChanged) this.#held = null;
    for (const event of events) this.#report(config, event);
    if (heldChanged || pinsAdded) {
      this.#version++;
      queueMicrotask(this.#changed);
    }
    return served;
  }

  /** Everything held for review on the preset, oldest first. */
  list(config: PresetConfig): HeldItem[] {
    const names = new Map(config.servers.map((s) => [s.id, s.name]));
    const rows = this.#sql.exec<{
      server_id: string;
      kind: PinKind;
      name: string;
      change: "changed" | "added";
      definition: string;
      diff: string;
      detected_at: number;
      rejected_at: number | null;
      pinned: string | null;
    }>(
      `SELECT h.server_id, h.kind, h.name, h.change, h.definition, h.diff, h.detected_at, h.rejected_at, p.definition AS pinned
       FROM item_held h LEFT JOIN item_pins p ON p.preset_id = h.preset_id AND p.server_id = h.server_id AND p.kind = h.kind AND p.name = h.name
       WHERE h.preset_id = ? ORDER BY h.detected_at, h.server_id, h.kind, h.name`,
      config.id,
    );
    const out: HeldItem[] = [];
    for (const r of rows) {
      const server = names.get(r.server_id);
      if (!server) continue;
      out.push({
        server,
        kind: r.kind,
        name: r.name,
        change: r.change,
        detectedAt: r.detected_at,
        rejectedAt: r.rejected_at,
        pinned: r.pinned ? (JSON.parse(r.pinned) as JsonObject) : null,
        current: JSON.parse(r.definition) as JsonObject,
        diff: JSON.parse(r.diff) as DefinitionDiff,
      });
    }
    return out;
  }

  /** The held items `picks` names (null: all), and the picks that name nothing held. */
  #picked(config: PresetConfig, picks: readonly ItemPick[] | null): { items: HeldItem[]; unknown: ItemPick[] } {
    const all = this.list(config);
    if (picks === null) return { items: all, unknown: [] };
    const matches = (p: ItemPick, h: HeldItem) => p.server === h.server && p.name === h.name && (p.kind === undefined || p.kind === h.kind);
    return { items: all.filter((h) => picks.some((p) => matches(p, h))), unknown: picks.filter((p) => !all.some((h) => matches(p, h))) };
  }

  /** Pins the held definitions `picks` names (null: all) and serves them. Nothing changes when a pick names nothing held. */
  approve(config: PresetConfig, picks: readonly ItemPick[] | null): { items: HeldItem[]; unknown: ItemPick[] } {
    const found = this.#picked(config, picks);
    if (found.unknown.length > 0 || found.items.length === 0) return found;
    const ids = new Map(config.servers.map((s) => [s.name, s.id]));
    const now = Date.now();
    for (const h of found.items) {
      const scope = [config.id, ids.get(h.server)!, h.kind, h.name] as const;
      this.#sql.exec(
        `INSERT OR REPLACE INTO item_pins (preset_id, server_id, kind, name, hash, definition, pinned_at)
         SELECT preset_id, server_id, kind, name, hash, definition, ? FROM item_held WHERE preset_id = ? AND server_id = ? AND kind = ? AND name = ?`,
        now,
        ...scope,
      );
      this.#sql.exec("DELETE FROM item_held WHERE preset_id = ? AND server_id = ? AND kind = ? AND name = ?", ...scope);
    }
    this.#touched();
    return found;
  }

  /** Keeps the pins of the held items `picks` names (null: all): they stay held, and their current definitions raise no further alert. */
  reject(config: PresetConfig, picks: readonly ItemPick[] | null): { items: HeldItem[]; unknown: ItemPick[] } {
    const found = this.#picked(config, picks);
    if (found.unknown.length > 0 || found.items.length === 0) return found;
    const ids = new Map(config.servers.map((s) => [s.name, s.id]));
    const now = Date.now();
    for (const h of found.items) {
      this.#sql.exec(
        "UPDATE item_held SET rejected_at = ? WHERE preset_id = ? AND server_id = ? AND kind = ? AND name = ?",
        now,
        config.id,
        ids.get(h.server)!,
        h.kind,
        h.name,
      );
    }
    return { items: found.items.map((h) => ({ ...h, rejectedAt: now })), unknown: [] };
  }

  /** Forgets what belongs to servers no longer attached (or to an earlier preset of the same name). */
  retain(config: PresetConfig): void {
    const ids = config.servers.map((s) => s.id);
    const keep = ids.length ? `AND server_id NOT IN (${ids.map(() => "?").join(",")})` : "";
    for (const table of ["item_pins", "item_held", "pin_baselines"]) {
      this.#sql.exec(`DELETE FROM ${table} WHERE preset_id != ?`, config.id);
      this.#sql.exec(`DELETE FROM ${table} WHERE preset_id = ? ${keep}`, config.id, ...ids);
    }
    this.#touched();
  }

  /** Pinning is off: nothing is pinned or held, and turning it on again takes a new baseline. */
  #forget(presetId: string): void {
    if (this.#cleared.has(presetId)) return;
    for (const table of ["item_pins", "item_held", "pin_baselines"]) this.#sql.exec(`DELETE FROM ${table} WHERE preset_id = ?`, presetId);
    this.#cleared.add(presetId);
    this.#held = null;
  }

  #touched(): void {
    this.#held = null;
    this.#version++;
  }
}
