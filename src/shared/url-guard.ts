/**
 * @module SSRF guard for upstream server URLs, applied when a server is saved and again before every
 * connection. Outside development an upstream must be https on a public host name or address;
 * with ALLOW_INSECURE_UPSTREAMS=true, loopback (http or https) is also allowed, and nothing else.
 * Host names are not resolved here (Workers cannot); on Cloudflare, outbound fetches cannot reach
 * private networks anyway, so the literal and name checks close the local-development gap.
 */
import { ipv4Of, mappedIPv4, parseIPv4, parseIPv6 } from "./ip-address";

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/**
 * Names that never denote a public server: special-use and private-use top-level names (RFC 6761,
 * 6762, 7686, 8375, 9476), cluster and service-discovery zones (Kubernetes, Consul), and a few
 * public wildcard names that resolve to loopback or to the address written in them.
 */
const BLOCKED_SUFFIXES = [
  ".localhost",
  ".local",
  ".localdomain",
  ".internal",
  ".intranet",
  ".private",
  ".lan",
  ".home",
  ".corp",
  ".arpa",
  ".test",
  ".invalid",
  ".example",
  ".onion",
  ".alt",
  ".svc",
  ".cluster.local",
  ".consul",
  ".localtest.me",
  ".lvh.me",
  ".nip.io",
  ".sslip.io",
];

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
  if (!host.includes(".") || BLOCKED_SUFFIXES.some((s) => host.endsWith(s) || host === s.slice(1))) {
    return { ok: false, reason: "must be a public host name" };
  }
  return { ok: true, url };
}

function isLoopbackHost(host: string): boolean {
  if (host === "localhost" || host.endsWith(".localhost") || host === "localhost.localdomain" || host === "[::1]") return true;
  const v4 = parseIPv4(host);
  if (v4) return v4[0] === 127;
  const v6 = host.startsWith("[") ? parseIPv6(host.slice(1, -1)) : null;
  const mapped = v6 && mappedIPv4(v6);
  return mapped !== null && mapped[0] === 127;
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

/**
 * Only global unicast (2000::/3) is public, minus the ranges inside it that are not: IETF protocol
 * assignments 2001::/23 (Teredo, benchmarking, ORCHID), documentation 2001:db8::/32 and 3fff::/20.
 * Everything outside 2000::/3 is refused, which covers the unspecified address, IPv4-compatible
 * ::/96, IPv4-translated ::ffff:0:0:0/96, discard 100::/64, local-use NAT64 64:ff9b:1::/48,
 * unique-local, site-local fec0::/10, link-local and multicast. Forms that carry an IPv4 address a
 * gateway or relay will reach (IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by that
 * IPv4 address.
 */
function isPublicIPv6(v6: string): boolean {
  const g = parseIPv6(v6);
  if (!g) return false;
  const [g0, g1, g2] = g as [number, number, number];
  const mapped = mappedIPv4(g);
  if (mapped) return isPublicIPv4(mapped);
  if (g0 === 0x64 && g1 === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return isPublicIPv4(ipv4Of(g[6]!, g[7]!));
  if (g0 === 0x2002) return isPublicIPv4(ipv4Of(g1, g2));
  if ((g0 & 0xe000) !== 0x2000) return false;
  if (g0 === 0x2001 && g1 < 0x200) return false;
  if (g0 === 0x2001 && g1 === 0xdb8) return false;
  if (g0 === 0x3fff && g1 < 0x1000) return false;
  return true;
}
