import { describe, expect, it } from "vitest";
import { AuditThrottle } from "../../src/policy/audit-throttle";

describe("audit throttle", () => {
  it("lets one event per key through per interval", () => {
    const t = new AuditThrottle(60_000);
    expect(t.take("ip:1", 0)).toBe(true);
    expect(t.take("ip:1", 59_999)).toBe(false);
    expect(t.take("ip:2", 1)).toBe(true);
    expect(t.take("ip:1", 60_000)).toBe(true);
  });

  it("stays bounded under a flood of distinct keys, forgetting keys whose interval passed", () => {
    const t = new AuditThrottle(1000, 3);
    expect(["a", "b", "c"].map((k) => t.take(k, 0))).toEqual([true, true, true]);
    expect(t.take("d", 10)).toBe(false); // full of recent keys
    expect(t.take("d", 1000)).toBe(true); // a, b, c expired and were pruned
  });
});
