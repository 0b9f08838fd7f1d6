/**
 * @module The tool catalog a preset's Durable Object serves: built once per generation from the
 * upstreams' tool lists and kept as ready-made tools/list pages.
 */

import { RpcCode, type RpcRequest, replyHead, rpcErrorBody } from "../mcp/jsonrpc";
import type { PresetConfig, PresetServer } from "../preset/config";
import { decodeCursor, encodeCursor } from "../shared/cursor";
import type { UpstreamPool } from "../upstream/pool";
import { type CatalogDrop, type CatalogEntry, mergeCatalog, pageOf, resolveToolName } from "./catalog";
import type { CatalogAudit } from "./catalog-audit";
import type { ToolBindings } from "./tool-bindings";

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
  #entries: CatalogEntry[] | null = null;
  #generation = 0;
  /** Serialized tools/list results by cursor, valid until the catalog changes. */
  readonly #pages = new Map<string, string>();
  /** When each server (by id) was last listed again for a name it did not list. */
  readonly #relisted = new Map<string, number>();

  constructor(pool: UpstreamPool, opts: { audit?: CatalogAudit; bindings?: ToolBindings } = {}) {
    this.#pool = pool;
    this.#audit = opts.audit ?? null;
    this.#bindings = opts.bindings ?? null;
  }

  reset(): void {
    this.#generation++;
    this.#entries = null;
    this.#pages.clear();
  }

  /** The serialized tools/list response to `req`. */
  async list(config: PresetConfig, req: RpcRequest): Promise<string> {
    const cursor = req.params?.cursor;
    if (cursor !== undefined && typeof cursor !== "string") return rpcErrorBody(req.id, RpcCode.InvalidParams, "params.cursor must be a string.");
    const offset = cursor ? decodeCursor(cursor, isOffsetCursor)?.o : 0;
    if (offset === undefined) return rpcErrorBody(req.id, RpcCode.InvalidParams, "params.cursor is not a cursor this server issued.");
    const key = cursor ?? "";
    let page = this.#pages.get(key);
    if (page === undefined) {
      const generation = this.#generation;
      const { entries, complete } = await this.entries(config);
      const { items, next } = pageOf(entries, offset, TOOLS_PAGE_SIZE);
      page = JSON.stringify(next === null ? { tools: items.map((e) => e.tool) } : { tools: items.map((e) => e.tool), nextCursor: encodeCursor({ o: next }) });
      if (complete && generation === this.#generation) this.#pages.set(key, page);
    }
    return `${replyHead(req.id)}"result":${page}}`;
  }

  /**
   * Every exposed tool. A server that cannot be listed right now (down, breaker open) contributes
   * its last known tools, so clients' tool lists do not flap; with none known it is left out and
   * the catalog is not kept.
   */
  async entries(config: PresetConfig): Promise<{ entries: CatalogEntry[]; complete: boolean }> {
    if (this.#entries) return { entries: this.#entries, complete: true };
    const generation = this.#generation;
    let complete = true;
    const sources = await Promise.all(
      config.servers.map(async (server) => {
        let tools = await this.#pool.tools(server).catch(() => null);
        if (!tools) {
          tools = this.#pool.knownTools(server);
          if (!tools) complete = false;
        }
        return { server: server.name, selection: server.selection, tools: tools ?? [], naming: server.naming, overrides: server.overrides };
      }),
    );
    const { entries, dropped, bind, release } = mergeCatalog(sources, this.#bindings?.of(config.id));
    this.#bindings?.apply(config.id, bind, release);
    for (const drop of dropped) this.#audited(config, drop);
    if (complete && generation === this.#generation) this.#entries = entries;
    return { entries, complete };
  }

  /** Audits a tool the catalog left out (at most once per server and name per 24 h: CatalogAudit). Shadowed tools are never routed to. */
  #audited(config: PresetConfig, drop: CatalogDrop): void {
    if (drop.reason === "invalid_name") this.#audit?.note(config, "tool.refused", drop.server, drop.name, { upstreamName: drop.upstreamName.slice(0, 200) });
    else this.#audit?.note(config, "tool.shadowed", drop.server, drop.name, { upstreamName: drop.upstreamName, heldBy: drop.heldBy });
  }

  /** The exposed tool named `name`, if the catalog has it. */
  async entry(config: PresetConfig, name: string): Promise<CatalogEntry | undefined> {
    const { entries } = await this.entries(config);
    return entries.find((e) => e.name === name);
  }

  /**
   * Where a tools/call of an exposed name goes: a `<server>__<tool>` name straight to its server
   * (no need to wait for the other servers' lists), other names through the catalog. Either way
   * the upstream must list the tool, so a name it does not list is refused here even when the
   * server exposes all its tools (`tools: null`). The list may be stale (a tool added, or an
   * upstream that changed, without a list_changed): before refusing a `<server>__<tool>` name the
   * server is listed again, at most once per RELIST_UNKNOWN_MS (so unknown names cannot make the
   * gateway hammer an upstream) and not while its listing is backing off after a failure. Only a
   * server whose tool list the gateway has never had (down, breaker open) is reached by the name
   * and the selection alone, so its failures still count against its breaker.
   */
  async route(config: PresetConfig, name: string, now = Date.now()): Promise<{ server: PresetServer; upstreamName: string } | null> {
    const direct = resolveToolName(name, config.servers);
    if (direct) {
      const { server, upstreamName } = direct;
      const tools = await this.#pool.tools(server).catch(() => this.#pool.knownTools(server));
      if (tools === null || tools.some((t) => t.name === upstreamName)) return direct;
      if (now - (this.#relisted.get(server.id) ?? Number.NEGATIVE_INFINITY) < RELIST_UNKNOWN_MS) return null;
      this.#relisted.set(server.id, now);
      const fresh = await this.#pool.relistTools(server).catch(() => null);
      return fresh?.some((t) => t.name === upstreamName) ? direct : null;
    }
    const entry = await this.entry(config, name);
    const server = entry && config.servers.find((s) => s.name === entry.server);
    return entry && server ? { server, upstreamName: entry.upstreamName } : null;
  }
}
