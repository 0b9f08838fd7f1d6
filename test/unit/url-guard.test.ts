import { describe, expect, it } from "vitest";
import { checkUpstreamUrl } from "../../src/shared/url-guard";

const STRICT = { allowInsecure: false };
const DEV = { allowInsecure: true };

const PRIVATE = "must not point at a private or reserved address";
const NOT_PUBLIC_NAME = "must be a public host name";
const LOCALHOST = /must not point at localhost.*ALLOW_INSECURE_UPSTREAMS=true/;

/** The refusal reason, failing the test if the URL was accepted. */
function refusal(raw: string, opts = STRICT): string {
  const result = checkUpstreamUrl(raw, opts);
  if (result.ok) throw new Error(`expected ${raw} to be refused, but it was accepted as ${result.url.href}`);
  return result.reason;
}

/** The parsed URL, failing the test if the URL was refused. */
function accepted(raw: string, opts = STRICT): URL {
  const result = checkUpstreamUrl(raw, opts);
  if (!result.ok) throw new Error(`expected ${raw} to be accepted, but it was refused: ${result.reason}`);
  return result.url;
}

describe("checkUpstreamUrl: public hosts", () => {
  it("accepts an https URL on a public host name and returns the parsed URL", () => {
    const url = accepted("https://mcp.example.com/v1/mcp?x=1");
    expect(url).toBeInstanceOf(URL);
    expect(url.hostname).toBe("mcp.example.com");
    expect(url.pathname).toBe("/v1/mcp");
    expect(url.search).toBe("?x=1");
  });

  it("accepts an https URL on a public host name in development mode too", () => {
    expect(accepted("https://mcp.example.com/mcp", DEV).hostname).toBe("mcp.example.com");
  });

  it.each(["https://8.8.8.8/mcp", "https://172.15.255.255/", "https://172.32.0.1/", "https://100.63.255.255/", "https://100.128.0.1/", "https://11.0.0.1/"])(
    "accepts the public IPv4 literal %s over https",
    (raw) => {
      expect(accepted(raw).protocol).toBe("https:");
    },
  );

  it("accepts a public IPv6 literal over https", () => {
    expect(accepted("https://[2606:4700:4700::1111]/mcp").hostname).toBe("[2606:4700:4700::1111]");
  });

  it("refuses plain http to a public host, saying https is required", () => {
    expect(refusal("http://mcp.example.com/mcp")).toBe("must use https");
  });

  it("refuses plain http to a public host in development mode, saying http is for loopback only", () => {
    expect(refusal("http://mcp.example.com/mcp", DEV)).toBe("may use plain http only on loopback");
  });
});

describe("checkUpstreamUrl: loopback", () => {
  const loopbacks = [
    "http://127.0.0.1:8080/mcp",
    "http://localhost",
    "http://localhost:3000/mcp",
    "http://[::1]/",
    "http://127.1.2.3",
    "https://localhost/",
    "http://api.localhost/",
    "http://[::ffff:127.0.0.1]/",
  ];

  it.each(loopbacks)("accepts %s when insecure upstreams are allowed", (raw) => {
    expect(accepted(raw, DEV).href).toBe(new URL(raw).href);
  });

  it.each(loopbacks)("refuses %s by default, pointing at ALLOW_INSECURE_UPSTREAMS", (raw) => {
    expect(refusal(raw)).toMatch(LOCALHOST);
  });

  it.each([
    ["hexadecimal", "https://0x7f000001/"],
    ["decimal", "https://2130706433/"],
    ["octal", "https://017700000001/"],
    ["short-form", "https://127.1/"],
  ])("treats the %s IPv4 form %s as loopback after URL normalisation", (_form, raw) => {
    expect(refusal(raw)).toMatch(LOCALHOST);
    expect(accepted(raw, DEV).hostname).toBe(new URL(raw).hostname);
    expect(new URL(raw).hostname).toMatch(/^127\./);
  });
});

describe("checkUpstreamUrl: private and reserved IPv4", () => {
  it.each([
    ["10/8", "https://10.0.0.1/"],
    ["10/8 upper edge", "https://10.255.255.255/"],
    ["172.16/12 lower edge", "https://172.16.0.1/"],
    ["172.16/12 upper edge", "https://172.31.255.255/"],
    ["192.168/16", "https://192.168.1.1/"],
    ["link-local cloud metadata", "https://169.254.169.254/latest/meta-data/"],
    ["carrier-grade NAT", "https://100.64.0.1/"],
    ["carrier-grade NAT upper edge", "https://100.127.255.255/"],
    ["this-network", "https://0.0.0.0/"],
    ["multicast", "https://224.0.0.1/"],
    ["reserved class E", "https://240.0.0.1/"],
    ["broadcast", "https://255.255.255.255/"],
    ["IETF protocol assignments", "https://192.0.0.1/"],
    ["benchmarking", "https://198.18.0.1/"],
    ["TEST-NET-1", "https://192.0.2.10/"],
    ["TEST-NET-2", "https://198.51.100.7/"],
    ["TEST-NET-3", "https://203.0.113.9/"],
  ])("refuses %s (%s) even over https", (_range, raw) => {
    expect(refusal(raw)).toBe(PRIVATE);
  });

  it.each(["https://10.0.0.1/", "https://192.168.1.1/", "https://169.254.169.254/"])(
    "refuses %s in development mode too: allowInsecure opens loopback only",
    (raw) => {
      expect(refusal(raw, DEV)).toBe(PRIVATE);
    },
  );

  it.each(["https://192.0.3.1/", "https://198.51.101.1/", "https://203.0.114.1/"])("accepts %s, a public neighbour of a reserved /24", (raw) => {
    expect(checkUpstreamUrl(raw, { allowInsecure: false }).ok).toBe(true);
  });

  it("refuses localhost.localdomain, a loopback alias, without allowInsecure", () => {
    expect(checkUpstreamUrl("https://localhost.localdomain/", { allowInsecure: false }).ok).toBe(false);
    expect(checkUpstreamUrl("https://printer.localdomain/", { allowInsecure: false }).ok).toBe(false);
  });

  it("refuses a private address over plain http before looking at the address", () => {
    expect(refusal("http://10.0.0.1/")).toBe("must use https");
    expect(refusal("http://10.0.0.1/", DEV)).toBe("may use plain http only on loopback");
  });

  it("refuses obfuscated private addresses once the URL parser normalises them", () => {
    expect(new URL("https://0xa9fea9fe/").hostname).toBe("169.254.169.254");
    expect(refusal("https://0xa9fea9fe/")).toBe(PRIVATE);
    expect(refusal("https://167772161/")).toBe(PRIVATE); // 10.0.0.1
  });
});

describe("checkUpstreamUrl: private and reserved IPv6", () => {
  it.each([
    ["unique local", "https://[fc00::1]/"],
    ["unique local fd00::/8", "https://[fd12:3456::1]/"],
    ["link-local", "https://[fe80::1]/"],
    ["multicast", "https://[ff02::1]/"],
    ["unspecified", "https://[::]/"],
    ["IPv4-mapped private", "https://[::ffff:10.0.0.1]/"],
    ["IPv4-mapped metadata", "https://[::ffff:169.254.169.254]/"],
    ["NAT64 of a private address", "https://[64:ff9b::a00:1]/"],
  ])("refuses the %s address %s", (_range, raw) => {
    expect(refusal(raw)).toBe(PRIVATE);
    expect(refusal(raw, DEV)).toBe(PRIVATE);
  });

  it.each([
    ["IPv4-compatible loopback ::/96", "https://[::7f00:1]/"],
    ["IPv4-compatible, dotted", "https://[::127.0.0.1]/"],
    ["IPv4-compatible public ::/96 (deprecated, never a real server)", "https://[::808:808]/"],
    ["IPv4-translated metadata ::ffff:0:0:0/96", "https://[::ffff:0:a9fe:a9fe]/"],
    ["IPv4-translated, dotted", "https://[::ffff:0:10.0.0.1]/"],
    ["IPv4-mapped CGNAT", "https://[::ffff:100.64.0.1]/"],
    ["NAT64 of the metadata address", "https://[64:ff9b::a9fe:a9fe]/"],
    ["NAT64 of loopback", "https://[64:ff9b::127.0.0.1]/"],
    ["local-use NAT64 64:ff9b:1::/48", "https://[64:ff9b:1::808:808]/"],
    ["6to4 of the metadata address", "https://[2002:a9fe:a9fe::]/"],
    ["6to4 of 10/8", "https://[2002:a00:1::1]/"],
    ["6to4 of loopback", "https://[2002:7f00:1::]/"],
    ["site-local fec0::/10", "https://[fec0::1]/"],
    ["site-local upper edge", "https://[feff:ffff::1]/"],
    ["discard 100::/64", "https://[100::1]/"],
    ["documentation 2001:db8::/32", "https://[2001:db8::1]/"],
    ["documentation 2001:db8::/32 upper edge", "https://[2001:db8:ffff:ffff::1]/"],
    ["documentation 3fff::/20", "https://[3fff::1]/"],
    ["documentation 3fff::/20 upper edge", "https://[3fff:fff:ffff::1]/"],
    ["Teredo 2001::/32", "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/"],
    ["benchmarking 2001:2::/48", "https://[2001:2::1]/"],
    ["unassigned space outside 2000::/3", "https://[4000::1]/"],
  ])("refuses the %s address %s", (_range, raw) => {
    expect(refusal(raw)).toBe(PRIVATE);
    expect(refusal(raw, DEV)).toBe(PRIVATE);
  });

  it.each([
    ["NAT64 of a public address", "https://[64:ff9b::808:808]/"],
    ["6to4 of a public address", "https://[2002:808:808::1]/"],
    ["global unicast just past 2001:db8::/32", "https://[2001:db9::1]/"],
    ["global unicast just past 3fff::/20", "https://[3fff:1000::1]/"],
    ["global unicast just past 2001::/23", "https://[2001:200::1]/"],
  ])("accepts the %s %s, as public as its IPv4 address", (_range, raw) => {
    expect(accepted(raw).protocol).toBe("https:");
  });

  it("accepts an IPv4-mapped public address", () => {
    expect(accepted("https://[::ffff:8.8.8.8]/").hostname).toBe("[::ffff:808:808]");
  });
});

describe("checkUpstreamUrl: host names that are not public", () => {
  it.each(["https://intranet/", "https://intranet:8443/mcp", "https://mcp/"])("refuses the single-label host %s", (raw) => {
    expect(refusal(raw)).toBe(NOT_PUBLIC_NAME);
  });

  it.each([
    "https://printer.local/",
    "https://vault.internal/",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://router.lan/",
    "https://nas.home.arpa/",
    "https://wiki.corp/",
    "https://MCP.Internal/",
  ])("refuses the internal-suffix host %s", (raw) => {
    expect(refusal(raw)).toBe(NOT_PUBLIC_NAME);
  });

  it.each([
    "https://api.default.svc/",
    "https://api.default.svc.cluster.local/mcp",
    "https://vault.service.consul/",
    "https://tools.test/",
    "https://mcp.invalid/",
    "https://mcp.example/",
    "https://hidden.onion/",
    "https://1.0.0.127.in-addr.arpa/",
    "https://mcp.private/",
    "https://mcp.alt/",
    "https://api.localhost/",
    "https://mcp.home/",
    "https://lvh.me/",
    "https://mcp.lvh.me/",
    "https://10.0.0.1.nip.io/",
    "https://169-254-169-254.sslip.io/",
    "https://API.DEFAULT.SVC.CLUSTER.LOCAL./",
  ])("refuses the cluster-internal or special-use host %s", (raw) => {
    expect(refusal(raw)).toMatch(/public host name|localhost/);
    expect(checkUpstreamUrl(raw, DEV).ok).toBe(raw === "https://api.localhost/");
  });

  it.each(["https://mcp.example.com/", "https://svc.example.com/", "https://consul.io/", "https://test.dev/", "https://arpa.example.org/"])(
    "accepts %s, a public name with a special-use word inside it",
    (raw) => {
      expect(accepted(raw).hostname).toBe(new URL(raw).hostname);
    },
  );

  it("does not mistake a public name that merely contains an internal word for an internal suffix", () => {
    expect(accepted("https://local.example.com/").hostname).toBe("local.example.com");
    expect(accepted("https://internal-tools.example.com/").hostname).toBe("internal-tools.example.com");
  });

  // A trailing dot makes a name fully qualified; resolvers treat "localhost." as "localhost".
  it.each([
    ["https://localhost./", LOCALHOST],
    ["https://intranet./", NOT_PUBLIC_NAME],
    ["https://vault.internal./", NOT_PUBLIC_NAME],
    ["https://printer.local./", NOT_PUBLIC_NAME],
  ])("refuses %s written with a trailing dot", (raw, reason) => {
    expect(refusal(raw)).toMatch(reason);
  });
});

describe("checkUpstreamUrl: URL shape", () => {
  it.each(["https://user:pass@mcp.example.com/", "https://user@mcp.example.com/", "https://:secret@mcp.example.com/"])(
    "refuses credentials in %s and suggests headers instead",
    (raw) => {
      expect(refusal(raw)).toBe("must not contain credentials; use headers instead");
      expect(refusal(raw, DEV)).toBe("must not contain credentials; use headers instead");
    },
  );

  it("refuses credentials even on loopback in development mode", () => {
    expect(refusal("http://user:pass@127.0.0.1:8080/mcp", DEV)).toBe("must not contain credentials; use headers instead");
  });

  it("refuses a URL with a fragment", () => {
    expect(refusal("https://mcp.example.com/mcp#section")).toBe("must not contain a fragment");
  });

  it.each([
    "ftp://mcp.example.com/",
    "ws://mcp.example.com/",
    "wss://mcp.example.com/",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "data:text/plain,hi",
    "gopher://127.0.0.1:6379/",
  ])("refuses the non-http scheme %s", (raw) => {
    expect(refusal(raw)).toBe("must use https");
    expect(refusal(raw, DEV)).toBe("must use https");
  });

  it.each(["", "not a url", "mcp.example.com/mcp", "/relative/path", "https://", "http://[::1", "https://exa mple.com/", "https://[fc00::zz]/"])(
    "refuses the unparseable string %j",
    (raw) => {
      expect(refusal(raw)).toBe("is not a valid absolute URL");
    },
  );
});
