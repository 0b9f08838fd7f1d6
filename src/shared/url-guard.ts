/**
 * @module SSRF guard for upstream server URLs, applied when a server is saved and again before every
 * connection. Outside development an upstream must be https on a public host name or address;
 * with ALLOW_INSECURE_UPSTREAMS=true, loopback (http or https) is also allowed, and nothing else.
 * Host names are not resolved here (Workers cannot); on Cloudflare, outbound fetches cannot reach
 * private networks anyway, so the literal and name checks close the local-development gap.
 */
export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

const BLOCKED_SUFFIXES = [".localhost", ".local", ".localdomain", ".internal", ".lan", ".home.arpa", ".intranet", ".corp"];

export function checkUpstreamUrl(raw: string, opts: { allowInsecure: boolean }): UrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "is not a valid absolute URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { ok: false, reason: "must use https" };
  if (url.username || url.password) return { ok: false, reason: "must not contain credentials; use headers instead" };
  if (url.hash) return { ok: false, reason: "must not contain a fragment" };

  // "localhost." is "localhost" to every resolver: compare names without the root dot.
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  const loopback = isLoopbackHost(host);
  if (loopback) {
    return opts.allowInsecure
      ? { ok: true, url }
      : { ok: false, reason: "must not point at localhost (set ALLOW_INSECURE_UPSTREAMS=true for local development)" };
  }
  if (url.protocol !== "https:") {
    return { ok: false, reason: opts.allowInsecure ? "may use plain http only on loopback" : "must use https" };
  }
  const v4 = parseIPv4(host);
  if (v4) return isPublicIPv4(v4) ? { ok: true, url } : { ok: false, reason: "must not point at a private or reserved address" };
  if (host.startsWith("[")) {
    return isPublicIPv6(host.slice(1, -1)) ? { ok: true, url } : { ok: false, reason: "must not point at a private or reserved address" };
  }
  if (!host.includes(".") || BLOCKED_SUFFIXES.some((s) => host.endsWith(s))) {
    return { ok: false, reason: "must be a public host name" };
  }
  return { ok: true, url };
}

function isLoopbackHost(host: string): boolean {
  if (host === "localhost" || host.endsWith(".localhost") || host === "localhost.localdomain" || host === "[::1]") return true;
  const v4 = parseIPv4(host);
  if (v4) return v4[0] === 127;
  const mapped = host.startsWith("[") ? mappedIPv4(host.slice(1, -1)) : null;
  return mapped !== null && mapped[0] === 127;
}

function parseIPv4(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

function isPublicIPv4([a, b, c]: number[]): boolean {
  if (a === undefined || b === undefined) return false;
  if (a === 0 || a === 10 || a === 127 || a >= 224) return false; // this-net, private, loopback, multicast/reserved
  if (a === 100 && b >= 64 && b <= 127) return false; // carrier-grade NAT
  if (a === 169 && b === 254) return false; // link-local, cloud metadata
  if (a === 172 && b >= 16 && b <= 31) return false;
  if (a === 192 && b === 168) return false;
  if (a === 192 && b === 0 && (c === 0 || c === 2)) return false; // IETF protocol assignments, TEST-NET-1
  if (a === 198 && (b === 18 || b === 19)) return false; // benchmarking
  if ((a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113)) return false; // TEST-NET-2, TEST-NET-3
  return true;
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d, as URL normalises it: ::ffff:xxxx:xxxx) IPv6 literal. */
function mappedIPv4(v6: string): number[] | null {
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (!m) return null;
  const hi = parseInt(m[1]!, 16);
  const lo = parseInt(m[2]!, 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255];
}

function isPublicIPv6(v6: string): boolean {
  const mapped = mappedIPv4(v6);
  if (mapped) return isPublicIPv4(mapped);
  if (v6 === "::" || v6 === "::1") return false;
  const first = parseInt(v6.split(":")[0] || "0", 16);
  if ((first & 0xfe00) === 0xfc00) return false; // unique local fc00::/7
  if ((first & 0xffc0) === 0xfe80) return false; // link-local fe80::/10
  if ((first & 0xff00) === 0xff00) return false; // multicast
  if (v6.startsWith("64:ff9b:")) return false; // NAT64 can reach private IPv4
  return true;
}
