/**
 * @module The network address an anonymous request is counted by, in one place: the
 * `CF-Connecting-IP` header Cloudflare sets, reduced to a rate-limit key (an IPv4 address, or the
 * /64 an IPv6 address is in: one subscriber usually holds a whole /64).
 */

/** The client address Cloudflare reports, or null when the request carries none. */
export function clientIp(headers: Headers): string | null {
  return headers.get("cf-connecting-ip")?.trim() || null;
}

/** The eight 16-bit groups of an IPv6 address (embedded IPv4 tail allowed), or null. */
function ipv6Groups(ip: string): number[] | null {
  let s = ip
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .split("%")[0]!;
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) {
    const b = v4.slice(1).map(Number);
    if (b.some((n) => n > 255)) return null;
    s = `${s.slice(0, v4.index)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => Number.parseInt(g, 16));
}

/**
 * The key an address is counted under: an IPv4 address as is (IPv4-mapped IPv6 too), an IPv6
 * address as its /64, and anything else (no header, garbage) as one shared bucket, so rotating
 * the header's value cannot mint identities.
 */
export function ipRateKey(ip: string | null): string {
  if (!ip) return "anonymous";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip) && ip.split(".").every((n) => Number(n) <= 255)) return ip;
  const g = ipv6Groups(ip);
  if (!g) return "unparsable";
  if (g.slice(0, 5).every((n) => n === 0) && g[5] === 0xffff) return [g[6]! >> 8, g[6]! & 255, g[7]! >> 8, g[7]! & 255].join(".");
  return `${g
    .slice(0, 4)
    .map((n) => n.toString(16))
    .join(":")}::/64`;
}
