import { describe, expect, it } from "vitest";
import { addressBucket, callerKey, fromCallerKey } from "../../src/policy/caller-key";
import { clientAddress } from "../../src/shared/client-address";

describe("addressBucket", () => {
  it.each([
    ["203.0.113.7", "203.0.113.7"],
    ["010.000.000.001", "10.0.0.1"],
    ["::ffff:203.0.113.7", "203.0.113.7"],
    ["::ffff:cb00:7107", "203.0.113.7"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:0DB8:0001:0002:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"],
    ["2001:db8:1:2::", "2001:db8:1:2::/64"],
    ["2001:db8::1", "2001:db8::/64"],
    ["::1", "::/64"],
    ["2001:db8:1:2::203.0.113.7", "2001:db8:1:2::/64"],
  ])("counts %s as %s", (ip, bucket) => {
    expect(addressBucket(ip)).toBe(bucket);
  });

  it("puts every address of one IPv6 /64 in one bucket and the next /64 in another", () => {
    const a = Array.from({ length: 50 }, (_, i) => addressBucket(`2001:db8:aa:bb:${i.toString(16)}:${((i * 7919) & 0xffff).toString(16)}::${i}`));
    expect(new Set(a)).toEqual(new Set(["2001:db8:aa:bb::/64"]));
    expect(addressBucket("2001:db8:aa:bc::1")).not.toBe(a[0]);
  });

  it.each([
    null,
    "",
    "not an ip",
    "203.0.113.7, 198.51.100.1",
    "256.0.0.1",
    "1.2.3",
    "203.0.113.7:443",
    "fe80::1%eth0",
    "2001:db8:::1",
    "1:2:3:4:5:6:7:8:9",
    "g::1",
    `${"a".repeat(5000)}`,
    "::ffff:999.1.1.1",
    "[2001:db8::1]",
  ])("counts the missing or malformed address %j as the one shared bucket", (ip) => {
    expect(addressBucket(ip)).toBe("unknown");
  });
});

describe("callerKey", () => {
  it("keys users by id and anonymous callers by address bucket", () => {
    expect(callerKey("usr_1", "203.0.113.7")).toBe("user:usr_1");
    expect(callerKey(null, "203.0.113.7")).toBe("ip:203.0.113.7");
    expect(callerKey(null, "2001:db8:1:2:3:4:5:6")).toBe("ip:2001:db8:1:2::/64");
    expect(callerKey(null, "garbage")).toBe("ip:unknown");
    expect(callerKey(null, null)).toBe("ip:unknown");
    expect(fromCallerKey(callerKey(null, "2001:db8:1:2::9"))).toEqual({ userId: null, ip: "2001:db8:1:2::/64" });
  });
});

describe("clientAddress", () => {
  const req = (ip?: string) => new Request("https://gw.example/mcp", { headers: ip ? { "cf-connecting-ip": ip } : {} });

  it('reads CF-Connecting-IP only when TRUST_CF_CONNECTING_IP is exactly "true"', () => {
    expect(clientAddress(req("203.0.113.7"), { TRUST_CF_CONNECTING_IP: "true" })).toBe("203.0.113.7");
    for (const setting of [undefined, "false", "TRUE", "1", ""]) {
      expect(clientAddress(req("203.0.113.7"), { TRUST_CF_CONNECTING_IP: setting })).toBeNull();
    }
  });

  it("gives null for a trusted deployment's request without the header", () => {
    expect(clientAddress(req(), { TRUST_CF_CONNECTING_IP: "true" })).toBeNull();
    expect(clientAddress(req("  "), { TRUST_CF_CONNECTING_IP: "true" })).toBeNull();
  });
});
