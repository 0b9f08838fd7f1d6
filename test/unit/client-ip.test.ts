import { describe, expect, it } from "vitest";
import { clientIp, ipRateKey } from "../../src/shared/client-ip";

describe("ipRateKey", () => {
  it.each([
    ["203.0.113.7", "203.0.113.7"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:DB8:1:2::9", "2001:db8:1:2::/64"],
    ["2001:db8::", "2001:db8:0:0::/64"],
    ["::ffff:198.51.100.4", "198.51.100.4"],
    ["[2001:db8:a:b::1]", "2001:db8:a:b::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
  ])("keys %s as %s", (ip, key) => expect(ipRateKey(ip)).toBe(key));

  it.each([["not-an-ip"], ["1.2.3.256"], ["1:2:3:4:5:6:7:8:9"], ["1::2::3"], ["12345::1"]])("puts %s in the shared bucket", (ip) =>
    expect(ipRateKey(ip)).toBe("unparsable"),
  );

  it("puts a request without the header in the anonymous bucket", () => {
    expect(clientIp(new Headers())).toBeNull();
    expect(ipRateKey(clientIp(new Headers()))).toBe("anonymous");
    expect(clientIp(new Headers({ "CF-Connecting-IP": " 203.0.113.9 " }))).toBe("203.0.113.9");
  });
});
