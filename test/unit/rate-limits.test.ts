import { describe, expect, it } from "vitest";
import { RateLimits } from "../../src/policy/rate-limits";

const storage = () => ({ stored: new Map<string, unknown>(), put: async () => {}, delete: async () => true });
const LIMIT = { requests: 2, windowSeconds: 60 };

describe("RateLimits per session", () => {
  it("refuses a session's third call in the window though each came from another caller", () => {
    const limits = new RateLimits(storage());
    const now = 1_000_000;
    expect(limits.takeCall("ip:a", "t", LIMIT, undefined, now, "s1").allowed).toBe(true);
    expect(limits.takeCall("ip:b", "t", LIMIT, undefined, now, "s1").allowed).toBe(true);
    const refused = limits.takeCall("ip:c", "t", LIMIT, undefined, now, "s1");
    expect(refused.allowed).toBe(false);
    expect(refused.message).toMatch(/2 tool calls per 60 s in one session/);
    // Another session of the same new caller is not affected.
    expect(limits.takeCall("ip:c", "t", LIMIT, undefined, now, "s2").allowed).toBe(true);
  });

  it("counts control requests per session too", () => {
    const limits = new RateLimits(storage());
    const control = { requests: 1, windowSeconds: 60 }; // the control budget is at least 100
    for (let i = 0; i < 100; i++) expect(limits.takeControl(`ip:${i}`, control, 0, "s").allowed).toBe(true);
    expect(limits.takeControl("ip:new", control, 0, "s").message).toMatch(/100 requests per 60 s in one session/);
  });
});

describe("RateLimits.forgetSession", () => {
  it("drops an ended session's counters, in memory and storage, and keeps its caller's", () => {
    const deleted: string[] = [];
    const limits = new RateLimits({ stored: new Map(), put: async () => {}, delete: async (key: string) => deleted.push(key) > 0 });
    expect(limits.takeCall("ip:a", "t", LIMIT, undefined, 0, "s1").allowed).toBe(true);
    expect(limits.takeCall("ip:a", "t", LIMIT, undefined, 0, "s1").allowed).toBe(true);
    limits.forgetSession("s1");
    expect(deleted).toEqual(["calls|session:s1"]);
    // The caller's budget is still spent.
    expect(limits.takeCall("ip:a", "t", LIMIT, undefined, 0, "s2").allowed).toBe(false);
    expect(limits.takeCall("ip:b", "t", LIMIT, undefined, 0, "s1").allowed).toBe(true);
  });
});
