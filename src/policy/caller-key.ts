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
  const v4 = canonicalIPv4(ip);
  if (v4) return v4;
  const groups = ipv6Groups(ip);
  if (!groups) return UNKNOWN_ADDRESS;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join(".");
  }
  return `${compressIPv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`;
}

function canonicalIPv4(s: string): string | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts.join(".") : null;
}

/** The eight groups of an IPv6 address (any textual form without a zone), or null. */
function ipv6Groups(s: string): number[] | null {
  if (!s.includes(":") || !/^[0-9a-fA-F:.]{2,45}$/.test(s)) return null;
  let hostname: string;
  try {
    // The URL parser validates and canonicalises (hex groups only, lower case, "::" compressed).
    hostname = new URL(`http://[${s}]/`).hostname;
  } catch {
    return null;
  }
  const halves = hostname.slice(1, -1).split("::");
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves[1] ? halves[1].split(":") : [];
  const fill = halves.length === 2 ? Array<string>(8 - head.length - tail.length).fill("0") : [];
  const groups = [...head, ...fill, ...tail].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : null;
}

function compressIPv6(groups: number[]): string {
  return new URL(`http://[${groups.map((g) => g.toString(16)).join(":")}]/`).hostname.slice(1, -1);
}
