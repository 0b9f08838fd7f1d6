/**
 * @module The tool catalog a preset's Durable Object serves: built once per generation from the
 * upstreams' tool lists and kept as ready-made tools/list pages.
 */

import { RpcCode, type RpcRequest, replyHead, rpcErrorBody } from "../mcp/jsonrpc";
import type { PinBoard } from "../pinning/pin-board";
import type { PresetConfig, PresetServer } from "../preset/config";
import { decodeCursor, encodeCursor } from "../shared/cursor";
import type { Tool } from "../upstream/client";
import type { UpstreamPool } from "../upstream/pool";
import { GATEWAY_CALLER, type UpstreamCaller } from "../upstream/session-scope";
import { type CatalogDrop, type CatalogEntry, mergeCatalog, pageOf, resolveToolName } from "./catalog";
import type { CatalogAudit } from "./catalog-audit";
import type { ToolBindings } from "./tool-bindings";

/** Catalog variants kept at once (callers whose sessions list different tools: capability profiles, session state). */
const MAX_VARIANTS = 64;

interface Variant {
  entries: CatalogEntry[];
  /** Serialized tools/list results by cursor. */
  pages: Map<string, string>;
}

/**
 * What the catalog is merged from: each server's tool list (none known: no tools) without the tools
 * held for the owner's review (pinning/pin-board.ts), selection, naming and overrides.
 */
const sourcesOf = (config: PresetConfig, lists: readonly (Tool[] | null)[], pins: PinBoard | null) =>
  config.servers.map((server, i) => {
    const list = lists[i];
    const tools = !list ? [] : pins ? pins.admit(config, server, "tool", list) : list;
    return { server: server.name, selection: server.selection, tools, naming: server.naming, overrides: server.overrides };
  });

/** Where a tools/call goes; `held`: the tool is held for the owner's review and must not be called. */
export type ToolRoute = { server: PresetServer; upstreamName: string; held?: true } | null;

/** tools/list page size; clients follow nextCursor for larger catalogs. */
export const TOOLS_PAGE_SIZE = 1000;

/** How often a tools/call of a name its upstream does not list may have that upstream listed again (CatalogCache.route). */
export const RELIST_UNKNOWN_MS = 10_000;

const isOffsetCursor = (v: unknown): v is { o: number } =>
  !!v && typeof v === "object" && Number.isInteger((v as { o?: unknown }).o) && (v as { o: number }).o >= 0;

/**
 * The preset's tool catalog: the union of its enabled servers' selected tools, exposed with the
 * preset's naming, built once per generation and served as ready-made tools/list pages. Any change
 * (the preset's configuration, an upstream's tool list) starts a new generation.
 */
export class CatalogCache {
  readonly #pool: UpstreamPool;
  readonly #audit: CatalogAudit | null;
  readonly #bindings: ToolBindings | null;
  readonly #pins: PinBoard | null;
  /**
   * The catalog as built from one combination of the servers' tool lists, by the lists' ids:
   * callers whose upstream sessions list the same tools (the same arrays: pool.ts) share one.
   */
  readonly #variants = new Map<string, Variant>();
  readonly #listIds = new WeakMap<object, number>();
  #nextListId = 0;
  #generation = 0;
  /** When each server (by id) was last listed again for a name it did not list. */
  readonly #relisted = new Map<string, number>();

  constructor(pool: UpstreamPool, opts: { audit?: CatalogAudit; bindings?: ToolBindings; pins?: PinBoard } = {}) {
    this.#pool = pool;
    this.#audit = opts.audit ?? null;
    this.#bindings = opts.bindings ?? null;
    this.#pins = opts.pins ?? null;
  }

  reset(): void {
    this.#generation++;
    this.#variants.clear();
  }

  #idOf(list: object): number {
    let id = this.#listIds.get(list);
    if (id === undefined) {
      id = ++this.#nextListId;
      this.#listIds.set(list, id);
    }
    return id;
  }

  /** The serialized tools/list response to `req`, as a client of `caller`'s profile sees the catalog. */
  async list(config: PresetConfig, req: RpcRequest, caller: UpstreamCaller = GATEWAY_CALLER): Promise<string> {
    const cursor = req.params?.cursor;
    if (cursor !== undefined && typeof cursor !== "string") return rpcErrorBody(req.id, RpcCode.InvalidParams, "params.cursor must be a string.");
    const offset = cursor ? decodeCursor(cursor, isOffsetCursor)?.o : 0;
    if (offset === undefined) return rpcErrorBody(req.id, RpcCode.InvalidParams, "params.cursor is not a cursor this server issued.");
    const key = cursor ?? "";
    const { entries, variant } = await this.#entries(config, caller);
    let page = variant?.pages.get(key);
    if (page === undefined) {
      const { items, next } = pageOf(entries, offset, TOOLS_PAGE_SIZE);
      page = JSON.stringify(next === null ? { tools: items.map((e) => e.tool) } : { tools: items.map((e) => e.tool), nextCursor: encodeCursor({ o: next }) });
      variant?.pages.set(key, page);
    }
    return `${replyHead(req.id)}"result":${page}}`;
  }

  /**
   * Every exposed tool. A server that cannot be listed right now (down, breaker open) contributes
   * its last known tools, so clients' tool lists do not flap; with none known it is left out and
   * the catalog is not kept.
   */
  async entries(config: PresetConfig, caller: UpstreamCaller = GATEWAY_CALLER): Promise<{ entries: CatalogEntry[]; complete: boolean }> {
    const { entries, variant } = await this.#entries(config, caller);
    return { entries, complete: variant !== null };
  }

  /**
   * What the catalog looks like from the lists already known (each server's first profile list),
   * without asking any upstream or opening a session: what tells listeners that tools changed.
   */
  signature(config: PresetConfig): string {
    const latest = config.servers.map((server) => this.#pool.latestTools(server));
    const lists = latest.map((l) => l?.tools ?? null);
    if (this.#pins) {
      for (const [i, server] of config.servers.entries()) {
        const list = latest[i];
        if (list) this.#pins.settle(config, server, "tool", list.tools, list.fetchedAt);
      }
    }
    return JSON.stringify(mergeCatalog(sourcesOf(config, lists, this.#pins)).entries.map((e) => e.tool));
  }

  /** The catalog the caller sees, and the variant it is kept as (null: incomplete, not kept). */
  async #entries(config: PresetConfig, caller: UpstreamCaller): Promise<{ entries: CatalogEntry[]; variant: Variant | null }> {
    const generation = this.#generation;
    let complete = true;
    const lists = await Promise.all(
      config.servers.map(async (server) => {
        // A caller who cannot list it now (down, or no credentials of theirs yet) sees what others were last served.
        const tools = (await this.#pool.tools(server, caller).catch(() => null)) ?? this.#pool.knownTools(server, caller) ?? this.#pool.anyKnownTools(server);
        if (!tools) complete = false;
        return tools;
      }),
    );
    const key = lists.map((l) => (l ? this.#idOf(l) : 0)).join(",");
    const kept = this.#variants.get(key);
    if (kept && generation === this.#generation) return { entries: kept.entries, variant: kept };
    const { entries, dropped, bind, release } = mergeCatalog(sourcesOf(config, lists, this.#pins), this.#bindings?.of(config.id));
    this.#bindings?.apply(config.id, bind, release);
    for (const drop of dropped) this.#audited(config, drop);
    if (!complete || generation !== this.#generation) return { entries, variant: null };
    const variant: Variant = { entries, pages: new Map() };
    if (this.#variants.size >= MAX_VARIANTS) this.#variants.delete(this.#variants.keys().next().value as string);
    this.#variants.set(key, variant);
    return { entries, variant };
  }

  /** Audits a tool the catalog left out (at most once per server and name per 24 h: CatalogAudit). Shadowed tools are never routed to. */
  #audited(config: PresetConfig, drop: CatalogDrop): void {
    if (drop.reason === "invalid_name") this.#audit?.note(config, "tool.refused", drop.server, drop.name, { upstreamName: drop.upstreamName.slice(0, 200) });
    else this.#audit?.note(config, "tool.shadowed", drop.server, drop.name, { upstreamName: drop.upstreamName, heldBy: drop.heldBy });
  }

  /** The exposed tool named `name`, if the catalog (as `caller`'s upstream sessions list it) has it. */
  async entry(config: PresetConfig, name: string, caller: UpstreamCaller = GATEWAY_CALLER): Promise<CatalogEntry | undefined> {
    const { entries } = await this.entries(config, caller);
    return entries.find((e) => e.name === name);
  }

  /**
   * Where a tools/call of an exposed name goes: a `<server>__<tool>` name straight to its server
   * (no need to wait for the other servers' lists), other names through the catalog. Either way
   * the upstream must list the tool (to this caller), so a name it does not list is refused here
   * even when the server exposes all its tools (`tools: null`). The list may be stale (a tool
   * added, or an upstream that changed, without a list_changed): before refusing a
   * `<server>__<tool>` name the server is listed again, at most once per RELIST_UNKNOWN_MS (so
   * unknown names cannot make the gateway hammer an upstream) and not while its listing is
   * backing off after a failure. Only a server whose tool list the gateway has never had (down,
   * breaker open) is reached by the name and the selection alone, so its failures still count
   * against its breaker.
   */
  async route(config: PresetConfig, name: string, caller: UpstreamCaller = GATEWAY_CALLER, now = Date.now()): Promise<ToolRoute> {
    const direct = resolveToolName(name, config.servers);
    if (direct) {
      const { server, upstreamName } = direct;
      // The list already held answers at once (the hot path); else it is asked for.
      const tools = this.#pool.knownTools(server, caller) ?? (await this.#pool.tools(server, caller).catch(() => null));
      if (tools === null) return direct;
      const verdict = this.#verdict(config, server, tools, upstreamName);
      if (verdict !== "absent") return verdict === "held" ? { ...direct, held: true } : direct;
      if (now - (this.#relisted.get(server.id) ?? Number.NEGATIVE_INFINITY) < RELIST_UNKNOWN_MS) return null;
      this.#relisted.set(server.id, now);
      const fresh = await this.#pool.relistTools(server, caller).catch(() => null);
      const again = fresh ? this.#verdict(config, server, fresh, upstreamName) : "absent";
      return again === "absent" ? null : again === "held" ? { ...direct, held: true } : direct;
    }
    const entry = await this.entry(config, name, caller);
    const server = entry && config.servers.find((s) => s.name === entry.server);
    if (entry && server) return { server, upstreamName: entry.upstreamName };
    return this.#heldByName(config, name);
  }

  /** Whether a listed tool is served, held for review or not listed at all. */
  #verdict(config: PresetConfig, server: PresetServer, tools: readonly Tool[], upstreamName: string): "served" | "held" | "absent" {
    if (this.#pins) return this.#pins.verdict(config, server, "tool", tools, upstreamName);
    return tools.some((t) => t.name === upstreamName) ? "served" : "absent";
  }

  /** A plain or renamed exposed name whose tool is held for review (the catalog leaves held tools out). */
  #heldByName(config: PresetConfig, name: string): ToolRoute {
    if (!this.#pins) return null;
    for (const server of config.servers) {
      const renamed = Object.entries(server.overrides ?? {}).find(([, o]) => o.name === name)?.[0];
      const upstreamName = renamed ?? (server.naming === "plain" ? name : null);
      if (upstreamName && this.#pins.isHeld(config, server, "tool", upstreamName)) return { server, upstreamName, held: true };
    }
    return null;
  }
}
