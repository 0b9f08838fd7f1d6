/**
 * @module IP address literals as numbers: the dotted IPv4 form, and IPv6 as its eight 16-bit
 * groups. One parser for the SSRF guard (shared/url-guard.ts) and for counting anonymous callers
 * by address (policy/caller-key.ts). Pure.
 */

/** The four bytes of a dotted-decimal IPv4 address, or null. */
export function parseIPv4(text: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

/** The eight 16-bit groups of an IPv6 literal in the hex-only form the URL parser serialises to, or null. */
export function parseIPv6(v6: string): number[] | null {
  const halves = v6.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string | undefined) => (part ? part.split(":") : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!all.every((x) => /^[0-9a-f]{1,4}$/.test(x))) return null;
  return all.map((x) => parseInt(x, 16));
}

/** The eight groups of an IPv6 address in any textual form (no zone, no brackets), or null. */
export function ipv6Groups(text: string): number[] | null {
  if (!text.includes(":") || !/^[0-9a-fA-F:.]{2,45}$/.test(text)) return null;
  try {
    // The URL parser validates and canonicalises (hex groups only, lower case, "::" compressed).
    return parseIPv6(new URL(`http://[${text}]/`).hostname.slice(1, -1));
  } catch {
    return null;
  }
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d), or null. */
export function mappedIPv4(g: number[]): number[] | null {
  return g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff ? ipv4Of(g[6]!, g[7]!) : null;
}

/** The IPv4 address two 16-bit groups carry. */
export const ipv4Of = (hi: number, lo: number): number[] => [hi >> 8, hi & 255, lo >> 8, lo & 255];
