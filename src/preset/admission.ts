/**
 * @module Who gets in: the preset exists and is active, the caller may use it (its visibility,
 * members, and OAuth grants revoked since their access tokens were issued), and a session named
 * in a request is the caller's own live session of this preset.
 */

import type { McpReply, PresetRef } from "../mcp/contract";
import { RpcCode, type RpcMessage, rpcErrorBody } from "../mcp/jsonrpc";
import { decideAccess } from "../policy/access";
import type { Listener, ListenerVerdict } from "../streaming/session-streams";
import type { PresetConfig } from "./config";
import type { ConfigCache } from "./config-cache";
import { type Session, type SessionStore, sessionOwner } from "./session-store";
import type { KvSlice } from "./storage";

/** The identity a request into the object carries. */
export type Entrant = PresetRef & { userId: string | null; grantId?: string | null };

export const errorReply = (status: number, message: RpcMessage | undefined, code: number, text: string): McpReply => ({
  status,
  body: rpcErrorBody(message && "id" in message ? message.id : null, code, text),
});

export class Admission {
  readonly #config: ConfigCache;
  readonly #sessions: SessionStore;
  readonly #revokedStore: KvSlice;
  /** Revoked OAuth grants, until their access tokens would have expired anyway. */
  readonly #revoked = new Map<string, number>();

  constructor(config: ConfigCache, sessions: SessionStore, revoked: KvSlice) {
    this.#config = config;
    this.#sessions = sessions;
    this.#revokedStore = revoked;
    for (const [grantId, until] of revoked.stored) this.#revoked.set(grantId, Number(until));
  }

  /**
   * Refuses access tokens of these grants from now on. Tokens are verified at the edge without a
   * storage read, so revocation reaches them here, in the object that sees every request.
   */
  async revokeGrants(grantIds: string[], until: number): Promise<void> {
    for (const id of grantIds) this.#revoked.set(id, until);
    await Promise.all(grantIds.map((id) => this.#revokedStore.put(id, until)));
  }

  /** The preset's configuration if it is active and the caller may use it; else the refusal. */
  async admit(entrant: Entrant, first: RpcMessage | undefined): Promise<{ config: PresetConfig } | McpReply> {
    if (entrant.grantId && this.#grantRevoked(entrant.grantId)) return errorReply(401, first, RpcCode.Unauthorized, "The access token's grant was revoked.");
    const config = await this.#config.get(entrant);
    if (config?.status !== "active") return errorReply(404, first, RpcCode.PresetNotFound, "No preset at this URL.");
    const access = decideAccess(config, entrant.userId);
    if (access === "unauthenticated") return errorReply(401, first, RpcCode.Unauthorized, "This preset needs a bearer token.");
    if (access === "forbidden") return errorReply(403, first, RpcCode.Unauthorized, "Your token does not give access to this preset.");
    return { config };
  }

  /** The session, if it is live, of this preset, and opened by this caller. */
  ownSession(sessionId: string, userId: string | null, config: PresetConfig): Session | null {
    const session = this.#sessions.get(sessionId);
    return session && session.principal === sessionOwner(userId) && session.presetId === config.id ? session : null;
  }

  /**
   * Whether a listener keeps its standalone stream, decided again on every access change and
   * before every notification: its user must still be admitted to the active preset (else its
   * session ends), and the grant of its access token must not be revoked (else it is disconnected:
   * resuming needs a valid credential). Undecided while the configuration is being reloaded; the
   * object decides again once it is loaded.
   */
  listenerVerdict(listener: Listener): ListenerVerdict {
    const config = this.#config.current;
    if (config === undefined) return "keep";
    if (config?.status !== "active" || decideAccess(config, listener.userId) !== "allow") return "end";
    if (listener.grantId && this.#grantRevoked(listener.grantId)) return "disconnect";
    return "keep";
  }

  /**
   * Whether this user may hear what upstreams say outside any call (log lines) and set the level
   * asked of them: the preset's owner and members; never an anonymous caller or a stranger on a
   * public preset, whose log lines are those of its own calls.
   */
  entitledToUpstreamLogs(userId: string | null): boolean {
    const config = this.#config.current;
    if (!config || userId === null) return false;
    return userId === config.ownerId || config.members.includes(userId);
  }

  #grantRevoked(grantId: string): boolean {
    const until = this.#revoked.get(grantId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#revoked.delete(grantId);
    void this.#revokedStore.delete(grantId).catch(() => {});
    return false;
  }
}
