/**
 * @module Who a request is counted as, for rate limits, audit targets and usage: the
 * authenticated user (`user:<id>`), else the client address (`ip:<addr>`). Pure.
 *
 * Not to be confused with a session's owner (preset/session-store.ts `sessionOwner`), which binds
 * an MCP session to a user or to "anonymous" whatever address it comes from.
 */

export function callerKey(userId: string | null, ip: string | null): string {
  return userId ? `user:${userId}` : `ip:${ip ?? "unknown"}`;
}

/** The user id and client address behind a caller key. */
export function fromCallerKey(key: string): { userId: string | null; ip: string | null } {
  if (key.startsWith("user:")) return { userId: key.slice(5), ip: null };
  return { userId: null, ip: key.startsWith("ip:") ? key.slice(3) : null };
}
