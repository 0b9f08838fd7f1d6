/**
 * @module What a preset tells its clients unasked, on their standalone streams: that its tool, prompt or
 * resource list changed, and that a resource they subscribed to changed. Also keeps resource
 * subscriptions counted per session, so one client's unsubscribe never cuts off another's.
 */
import { errorMessageOf, type RpcRequest, rpcResultBody } from "../mcp/jsonrpc";
import type { PresetConfig, PresetServer } from "../preset/config";
import type { Session } from "../preset/session-store";
import type { SessionStreams } from "../streaming/session-streams";
import type { CatalogCache } from "../tools/catalog-cache";
import type { UpstreamPool } from "../upstream/pool";
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
      tools: async (config) => JSON.stringify((await catalog.entries(config)).entries.map((e) => e.tool)),
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
   * An upstream's resource changed: tell the sessions subscribed to it (by its exposed URI), as
   * long as the preset still has that server and exposes the resource (selections may have changed).
   */
  resourceUpdated(server: PresetServer, uri: string): void {
    void this.#deps
      .config()
      .then((config) => {
        const current = config?.servers.find((s) => s.id === server.id);
        if (!current || !selectsUri(current.resourceSelection, uri)) return;
        const exposed = exposeUri(current.name, current.naming, uri);
        const sessions = this.#deps.streams.subscribers(exposed);
        if (sessions.length > 0)
          this.#deps.streams.broadcast({ jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: exposed } }, sessions);
      })
      .catch((e) => console.error("resource update not relayed", e));
  }

  /** A notification on a call's reply stream that is about the upstream, not the call. */
  upstreamNotification(server: PresetServer, m: Record<string, unknown>): void {
    const params = (m.params ?? {}) as Record<string, unknown>;
    if (m.method === "notifications/resources/updated" && typeof params.uri === "string") this.resourceUpdated(server, params.uri);
    else if (m.method === "notifications/prompts/list_changed") this.#deps.pool.itemsChanged(server, "prompts");
    else if (m.method === "notifications/resources/list_changed") this.#deps.pool.itemsChanged(server, "resources");
  }

  /**
   * resources/subscribe and unsubscribe, counted per session: the upstream is subscribed for the
   * first client that asks and unsubscribed when the last one lets go.
   */
  async subscription(config: PresetConfig, session: Session, req: RpcRequest): Promise<string> {
    const { streams, items } = this.#deps;
    const uri = req.params?.uri;
    if (typeof uri !== "string") return items.answer(config, req);
    if (req.method === "resources/unsubscribe") {
      if (streams.unsubscribe(session.id, uri)) return rpcResultBody(req.id, {});
      return items.answer(config, req);
    }
    const body = await items.answer(config, req);
    if (errorMessageOf(body) === null) streams.subscribe(session.id, uri);
    return body;
  }

  /**
   * A new upstream session does not know the subscriptions the last one had (it was lost, or closed
   * while idle): subscribe it again to what clients still subscribe to on that server.
   */
  resubscribe(server: PresetServer): void {
    const uris = this.#deps.streams.subscribedUris();
    if (uris.length === 0) return;
    void this.#deps
      .config()
      .then(async (config) => {
        if (!config) return;
        for (const uri of uris) {
          const owner = await this.#deps.items.ownerOf(config, uri);
          if (owner?.id !== server.id) continue;
          await this.#deps.items.answer(config, { jsonrpc: "2.0", id: 0, method: "resources/subscribe", params: { uri } });
        }
      })
      .catch((e) => console.error("resubscribe failed", server.name, e));
  }

  /** The session ended: drops its subscriptions, unsubscribing upstream where it was the last. */
  async dropSubscriptions(config: PresetConfig, session: Pick<Session, "id">): Promise<void> {
    const { streams, items } = this.#deps;
    for (const uri of streams.subscriptionsOf(session.id)) {
      if (streams.unsubscribe(session.id, uri)) continue;
      await items.answer(config, { jsonrpc: "2.0", id: 0, method: "resources/unsubscribe", params: { uri } }).catch(() => {});
    }
  }
}
