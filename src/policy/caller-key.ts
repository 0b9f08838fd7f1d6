/**
 * @module Who a request is counted as, for rate limits, audit targets and usage: the
 * authenticated user (`user:<id>`), else the client's address bucket (`ip:<bucket>`). Pure.
 *
 * An IPv6 client controls at least a /64 (one customer's LAN), so it is counted by its /64, not
 * by each of its 2^64 addresses. A missing, untrusted or malformed address is one shared bucket,
 * `ip:unknown`, so no header value a client writes yields a fresh identity.
 *
 * Not to be confused with a session's owner (preset/session-store.ts `sessionOwner`), which binds
 * an MCP session to a user or to "anonymous" whatever address it comes from.
 */

import { ipv6Groups, mappedIPv4, parseIPv4 } from "../shared/ip-address";

/** The bucket of callers without a usable address. */
export const UNKNOWN_ADDRESS = "unknown";

export function callerKey(userId: string | null, ip: string | null): string {
  return userId ? `user:${userId}` : `ip:${addressBucket(ip)}`;
}

/** The user id and client address (bucket) behind a caller key. */
export function fromCallerKey(key: string): { userId: string | null; ip: string | null } {
  if (key.startsWith("user:")) return { userId: key.slice(5), ip: null };
  return { userId: null, ip: key.startsWith("ip:") ? key.slice(3) : null };
}

/**
 * What anonymous callers from `ip` are counted as: a canonical IPv4 address (also for an
 * IPv4-mapped IPv6 one), an IPv6 /64 (`2001:db8:1:2::/64`), or `unknown`.
 */
export function addressBucket(ip: string | null): string {
  if (!ip) return UNKNOWN_ADDRESS;
  const v4 = parseIPv4(ip);
  if (v4) return v4.join(".");
  const groups = ipv6Groups(ip);
  if (!groups) return UNKNOWN_ADDRESS;
  const mapped = mappedIPv4(groups);
  if (mapped) return mapped.join(".");
  return `${compressIPv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`;
}

function compressIPv6(groups: number[]): string {
  return new URL(`http://[${groups.map((g) => g.toString(16)).join(":")}]/`).hostname.slice(1, -1);
}
