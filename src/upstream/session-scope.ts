/**
 * @module Whose upstream MCP session a request goes on, and what that session declares. Pure.
 *
 * An attached server's scope (migrations/0009_session_scope.sql) says who may share an upstream
 * session: `shared`, every client of the preset; `per-caller` (the default), one signed-in user
 * (anonymous callers: one client session); `per-session`, one downstream MCP session. Within a
 * scope, clients that declared different capabilities never share either: an upstream session
 * declares exactly the client capabilities (sampling, elicitation form/url, roots) of the clients
 * behind it, so an upstream that offers some tools only to capable clients shows each client what
 * it would show it directly. A server that needs each caller's own credentials is never shared
 * between users, whatever its scope says.
 *
 * Modern-era (2026-07-28) requests have no downstream session: their stand-in is `ephemeral`, so
 * for an anonymous caller (or `per-session`) the upstream session lives as long as the request.
 */

import type { SessionScope } from "../db/schema";

/** The downstream side of a request, as the pool needs it to pick the upstream session. */
export interface UpstreamCaller {
  /** The downstream MCP session (a modern request's stand-in). */
  sessionId: string;
  /** The signed-in user, or null for an anonymous caller. */
  userId: string | null;
  /** The capability flags the client declared (mcp/client-capabilities.ts keptCapabilities). */
  capabilities: Record<string, unknown>;
  /** A modern request's stand-in session: nothing of it outlives the request. */
  ephemeral?: boolean;
  /** The gateway's public origin as the caller's request named it: where a connect page it is sent to lives. */
  origin?: string;
}

const GATEWAY_SESSION = "gateway";

/**
 * What a request with no downstream caller uses (catalog warm-up, list refreshes, the preset's
 * own subscriptions), and lists are listed with: a session the gateway holds, with the owner's
 * credentials where the server needs a user's own.
 */
export const GATEWAY_CALLER: UpstreamCaller = {
  sessionId: GATEWAY_SESSION,
  userId: null,
  capabilities: { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } },
};

/**
 * The capability profile of a client: one letter per client capability the gateway relays, in a
 * fixed order (`s` sampling, `f` elicitation form, `u` elicitation url, `r` roots, `l` roots list
 * changes), `-` for none. Elicitation declared without modes is form mode, as the spec says.
 */
export function capabilityProfile(capabilities: Record<string, unknown>): string {
  const elicitation = capabilities.elicitation as { form?: unknown; url?: unknown } | undefined;
  const roots = capabilities.roots as { listChanged?: unknown } | undefined;
  let profile = "";
  if (capabilities.sampling) profile += "s";
  if (elicitation && (elicitation.form || !elicitation.url)) profile += "f";
  if (elicitation?.url) profile += "u";
  if (roots) profile += roots.listChanged === true ? "rl" : "r";
  return profile || "-";
}

/** The client capabilities an upstream session of this profile declares at initialize. */
export function declaredCapabilities(profile: string): Record<string, unknown> {
  const declared: Record<string, unknown> = {};
  if (profile.includes("s")) declared.sampling = {};
  if (profile.includes("f") || profile.includes("u")) {
    declared.elicitation = { ...(profile.includes("f") ? { form: {} } : {}), ...(profile.includes("u") ? { url: {} } : {}) };
  }
  if (profile.includes("r")) declared.roots = profile.includes("l") ? { listChanged: true } : {};
  return declared;
}

/** Who shares an upstream session under a scope: a key that names them, without the profile. */
export function holderOf(scope: SessionScope, caller: UpstreamCaller, ownCredentials: boolean): string {
  if (scope === "shared" && !ownCredentials) return "shared";
  if (isGatewayCaller(caller)) return GATEWAY_SESSION;
  if (scope !== "per-session" && caller.userId !== null) return `user:${caller.userId}`;
  return `session:${caller.sessionId}`;
}

export const isGatewayCaller = (caller: UpstreamCaller): boolean => caller.sessionId === GATEWAY_SESSION;

/** The gateway's own caller with a client's capability profile: what a list for that profile is listed as. */
export const gatewayCallerLike = (caller: UpstreamCaller): UpstreamCaller => ({ sessionId: GATEWAY_SESSION, userId: null, capabilities: caller.capabilities });

/** The key of the upstream session a caller's request goes on: holder and profile. */
export function sessionKey(scope: SessionScope, caller: UpstreamCaller, ownCredentials: boolean): string {
  return `${holderOf(scope, caller, ownCredentials)}|${capabilityProfile(caller.capabilities)}`;
}

/** Whether the session behind a key is one downstream session's own (its requests may go to that client). */
export const ownedBySession = (key: string): boolean => key.startsWith("session:");

/** Whether the session behind a key belongs to one client (a user's, or a client session's): not shared, not the gateway's own. */
export const ownedByClient = (key: string): boolean => key.startsWith("user:") || ownedBySession(key);

/** Whether the upstream session behind a key may outlive the request that opened it. */
export function outlivesRequest(scope: SessionScope, caller: UpstreamCaller, ownCredentials: boolean): boolean {
  return !caller.ephemeral || holderOf(scope, caller, ownCredentials) !== `session:${caller.sessionId}`;
}
