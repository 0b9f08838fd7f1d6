/**
 * @module What a preset tells its clients unasked, on their standalone streams: that its tool, prompt or
 * resource list changed, and that a resource they subscribed to changed. Also keeps resource
 * subscriptions counted per session, so one client's unsubscribe never cuts off another's.
 */
import { errorMessageOf, type RpcRequest, rpcResultBody } from "../mcp/jsonrpc";
import type { PresetConfig, PresetServer } from "../preset/config";
import { type Session, upstreamCallerOf } from "../preset/session-store";
import type { SessionStreams } from "../streaming/session-streams";
import type { CatalogCache } from "../tools/catalog-cache";
import type { UpstreamPool } from "../upstream/pool";
import { gatewayCallerLike, type UpstreamCaller } from "../upstream/session-scope";
import { selectsUri } from "./item-selection";
import type { PresetItems } from "./preset-items";
import { exposeUri } from "./resource-names";

type ListKind = "tools" | "prompts" | "resources";

export interface NotificationDeps {
  streams: SessionStreams;
  items: PresetItems;
  pool: UpstreamPool;
  catalog: CatalogCache;
  /** The preset's current configuration (null when unknown or gone). */
  config: () => Promise<PresetConfig | null>;
}

export class PresetNotifications {
  readonly #deps: NotificationDeps;
  /** What listening clients last heard each list was. */
  readonly #signatures = new Map<ListKind, string>();
  /** Whose upstream session each subscribed session's subscriptions ride (upstream/session-scope.ts). */
  readonly #callers = new Map<string, UpstreamCaller>();
  #check: Promise<void> | null = null;
  #dirty = false;

  constructor(deps: NotificationDeps) {
    this.#deps = deps;
  }

  /**
   * Something may have changed a list (an upstream's list_changed, the owner editing the preset):
   * compares what tools/list, prompts/list and resources/list (with templates) answer now with
   * what they answered last time and tells listeners about each that differs. Coalesced: one check
   * at a time, run once more if more changes came meanwhile. `baselineOnly` just notes the lists.
   */
  listsMayHaveChanged(baselineOnly = false): void {
    const { streams, items, catalog } = this.#deps;
    if (!streams.hasListeners) return;
    if (this.#check) {
      this.#dirty = true;
      return;
    }
    const list = (config: PresetConfig, method: string) => items.answer(config, { jsonrpc: "2.0", id: 0, method });
    const signatures: Record<ListKind, (config: PresetConfig) => Promise<string>> = {
      tools: async (config) => catalog.signature(config),
      prompts: (config) => list(config, "prompts/list"),
      resources: async (config) => (await list(config, "resources/list")) + (await list(config, "resources/templates/list")),
    };
    this.#check = (async () => {
      do {
        this.#dirty = false;
        const config = await this.#deps.config();
        if (!config) return;
        for (const kind of Object.keys(signatures) as ListKind[]) {
          const signature = await signatures[kind](config);
          const before = this.#signatures.get(kind);
          this.#signatures.set(kind, signature);
          if (!baselineOnly && before !== undefined && before !== signature) {
            streams.broadcast({ jsonrpc: "2.0", method: `notifications/${kind}/list_changed` });
          }
        }
        baselineOnly = false;
      } while (this.#dirty);
    })()
      .catch((e) => console.error("list change check failed", e))
      .finally(() => {
        this.#check = null;
      });
  }

  /**
   * An upstream's resource changed: tell the sessions subscribed to it (by its exposed URI) whose
   * upstream session it changed on (`caller`: the one whose session said so; none: every
   * subscriber), as long as the preset still has that server and exposes the resource.
   */
  resourceUpdated(server: PresetServer, uri: string, caller?: UpstreamCaller): void {
    void this.#deps
      .config()
      .then((config) => {
        const current = config?.servers.find((s) => s.id === server.id);
        if (!current || !selectsUri(current.resourceSelection, uri)) return;
        const exposed = exposeUri(current.name, current.naming, uri);
        const on = caller ? this.#deps.pool.sessionKeyOf(current, caller) : null;
        const sessions = this.#deps.streams.subscribers(exposed).filter((id) => on === null || this.#sameSession(current, id, on));
        if (sessions.length > 0)
          this.#deps.streams.broadcast({ jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: exposed } }, sessions);
      })
      .catch((e) => console.error("resource update not relayed", e));
  }

  /** Whether a subscribed session's requests to `server` go on the upstream session `key`. */
  #sameSession(server: PresetServer, sessionId: string, key: string): boolean {
    const caller = this.#callers.get(sessionId);
    return caller !== undefined && this.#deps.pool.sessionKeyOf(server, caller) === key;
  }

  /** A notification on a call's reply stream that is about the upstream, not the call. */
  upstreamNotification(server: PresetServer, m: Record<string, unknown>, caller?: UpstreamCaller): void {
    const params = (m.params ?? {}) as Record<string, unknown>;
    if (m.method === "notifications/resources/updated" && typeof params.uri === "string") this.resourceUpdated(server, params.uri, caller);
    else if (m.method === "notifications/prompts/list_changed") this.#deps.pool.itemsChanged(server, "prompts", caller);
    else if (m.method === "notifications/resources/list_changed") this.#deps.pool.itemsChanged(server, "resources", caller);
  }

  /**
   * resources/subscribe and unsubscribe, on the caller's own upstream session (session-scope.ts),
   * counted per session: an upstream session is unsubscribed when the last client behind it lets go.
   */
  async subscription(config: PresetConfig, session: Session, req: RpcRequest): Promise<string> {
    const { streams, items } = this.#deps;
    const uri = req.params?.uri;
    // A modern listen outlives its request: its subscriptions ride the gateway's session of the client's profile.
    const caller = session.standIn ? gatewayCallerLike(upstreamCallerOf(session)) : upstreamCallerOf(session);
    if (typeof uri !== "string") return items.answer(config, req, undefined, caller);
    if (req.method === "resources/unsubscribe") {
      streams.unsubscribe(session.id, uri);
      if (await this.#stillHeld(config, session.id, caller, uri)) return rpcResultBody(req.id, {});
      return items.answer(config, req, undefined, caller);
    }
    const body = await items.answer(config, req, undefined, caller);
    if (errorMessageOf(body) === null) {
      streams.subscribe(session.id, uri);
      this.#callers.set(session.id, caller);
    }
    return body;
  }

  /** Whether another session whose requests share the caller's upstream session still subscribes to the URI. */
  async #stillHeld(config: PresetConfig, sessionId: string, caller: UpstreamCaller, uri: string): Promise<boolean> {
    const others = this.#deps.streams.subscribers(uri).filter((id) => id !== sessionId);
    if (others.length === 0) return false;
    const server = await this.#deps.items.ownerOf(config, uri);
    if (!server) return false;
    const key = this.#deps.pool.sessionKeyOf(server, caller);
    return others.some((id) => this.#sameSession(server, id, key));
  }

  /**
   * A new upstream session does not know the subscriptions an earlier one had (it was lost, or
   * closed while idle): subscribe it again to what the clients behind it still subscribe to.
   */
  resubscribe(server: PresetServer, key: string): void {
    const { streams } = this.#deps;
    const wanted = new Map<string, UpstreamCaller>();
    for (const uri of streams.subscribedUris()) {
      const behind = streams.subscribers(uri).find((id) => this.#sameSession(server, id, key));
      if (behind) wanted.set(uri, this.#callers.get(behind)!);
    }
    if (wanted.size === 0) return;
    void this.#deps
      .config()
      .then(async (config) => {
        if (!config) return;
        for (const [uri, caller] of wanted) {
          const owner = await this.#deps.items.ownerOf(config, uri);
          if (owner?.id !== server.id) continue;
          await this.#deps.items.answer(config, { jsonrpc: "2.0", id: 0, method: "resources/subscribe", params: { uri } }, undefined, caller);
        }
      })
      .catch((e) => console.error("resubscribe failed", server.name, e));
  }

  /** The session ended: drops its subscriptions, unsubscribing its upstream session where it was the last behind it. */
  async dropSubscriptions(config: PresetConfig, session: Pick<Session, "id">): Promise<void> {
    const { streams, items } = this.#deps;
    const caller = this.#callers.get(session.id);
    this.#callers.delete(session.id);
    for (const uri of streams.subscriptionsOf(session.id)) {
      streams.unsubscribe(session.id, uri);
      if (!caller || (await this.#stillHeld(config, session.id, caller, uri))) continue;
      await items.answer(config, { jsonrpc: "2.0", id: 0, method: "resources/unsubscribe", params: { uri } }, undefined, caller).catch(() => {});
    }
  }
}
