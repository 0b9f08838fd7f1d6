import { describe, expect, it } from "vitest";
import { type HitStore, RateLimits } from "../../src/policy/rate-limits";

/** A HitStore in memory that logs what RateLimits asked of it. */
function memoryStore(initial: [string, number[]][] = []) {
  const rows = new Map(initial.map(([k, v]) => [k, [...v]]));
  const log: string[] = [];
  const store: HitStore = {
    load: () => [...rows].map(([k, v]) => [k, [...v]] as [string, number[]]),
    append: (key, at) => {
      log.push(`append ${key} ${at}`);
      rows.set(key, [...(rows.get(key) ?? []), at]);
    },
    trim: (key, upTo) => {
      log.push(`trim ${key} ${upTo}`);
      rows.set(
        key,
        (rows.get(key) ?? []).filter((h) => h > upTo),
      );
    },
    drop: (key) => {
      log.push(`drop ${key}`);
      rows.delete(key);
    },
  };
  return { store, rows, log };
}
const storage = () => memoryStore().store;
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
    const { store, log } = memoryStore();
    const limits = new RateLimits(store);
    expect(limits.takeCall("ip:a", "t", LIMIT, undefined, 0, "s1").allowed).toBe(true);
    expect(limits.takeCall("ip:a", "t", LIMIT, undefined, 0, "s1").allowed).toBe(true);
    limits.forgetSession("s1");
    expect(log.filter((l) => l.startsWith("drop"))).toEqual(["drop calls|session:s1"]);
    // The caller's budget is still spent.
    expect(limits.takeCall("ip:a", "t", LIMIT, undefined, 0, "s2").allowed).toBe(false);
    expect(limits.takeCall("ip:b", "t", LIMIT, undefined, 0, "s1").allowed).toBe(true);
  });
});

describe("RateLimits storage", () => {
  it("appends one row per counted hit (nothing for a refusal), trims each key at most once a second, and starts from what is stored", () => {
    const { store, rows, log } = memoryStore();
    const limits = new RateLimits(store);
    const limit = { requests: 3, windowSeconds: 60 };
    expect(limits.takeCall("user:a", "t", limit, undefined, 1_000).allowed).toBe(true);
    expect(limits.takeCall("user:a", "t", limit, undefined, 1_500).allowed).toBe(true);
    expect(limits.takeCall("user:a", "t", limit, undefined, 2_000).allowed).toBe(true);
    expect(limits.takeCall("user:a", "t", limit, undefined, 2_100).allowed).toBe(false);
    expect(log).toEqual([
      "append calls|user:a 1000",
      "trim calls|user:a -59000",
      "append calls|user:a 1500",
      "append calls|user:a 2000",
      "trim calls|user:a -58000",
    ]);
    // A new object on the same storage (a restart or a crash) still refuses the fourth call.
    const restarted = new RateLimits(memoryStore([...rows]).store);
    expect(restarted.takeCall("user:a", "t", limit, undefined, 2_200).allowed).toBe(false);
    expect(restarted.takeCall("user:a", "t", limit, undefined, 61_001).allowed).toBe(true);
  });
});
