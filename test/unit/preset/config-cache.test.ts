import { describe, expect, it, vi } from "vitest";
import type { PresetConfig } from "../../../src/preset/config";
import { CONFIG_REVALIDATE_MS, ConfigCache } from "../../../src/preset/config-cache";

const ref = { handle: "alice", slug: "research" };
const config = (name: string) => ({ id: "prs_1", name }) as PresetConfig;

/** A load the test settles by hand, one call at a time. */
function manualLoad() {
  const pending: ((c: PresetConfig | null) => void)[] = [];
  const load = vi.fn(() => new Promise<PresetConfig | null>((resolve) => pending.push(resolve)));
  return { load, settle: (c: PresetConfig | null) => pending.shift()!(c) };
}

describe("ConfigCache", () => {
  it("loads once for concurrent readers and serves the loaded configuration after that", async () => {
    const { load, settle } = manualLoad();
    const applied = vi.fn();
    const cache = new ConfigCache(load, applied);
    const a = cache.get(ref);
    const b = cache.get(ref);
    settle(config("v1"));
    expect((await a)?.name).toBe("v1");
    expect((await b)?.name).toBe("v1");
    expect((await cache.get(ref))?.name).toBe("v1");
    expect(load).toHaveBeenCalledTimes(1);
    expect(applied).toHaveBeenCalledTimes(1);
    expect(cache.current?.name).toBe("v1");
  });

  it("reads again when an invalidation raced the load, so a change is never missed", async () => {
    const { load, settle } = manualLoad();
    const cache = new ConfigCache(load, () => {});
    const reading = cache.get(ref);
    cache.invalidate(); // the API changed the preset while D1 was being read
    settle(config("before the change"));
    await Promise.resolve();
    settle(config("after the change"));
    expect((await reading)?.name).toBe("after the change");
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("drops the configuration on invalidate and tells `applied` what it replaced", async () => {
    const applied = vi.fn();
    let n = 0;
    const cache = new ConfigCache(async () => config(`v${++n}`), applied);
    await cache.get(ref);
    cache.invalidate();
    expect(cache.current).toBeUndefined();
    expect((await cache.get(ref))?.name).toBe("v2");
    // After an invalidation there is nothing loaded to replace.
    expect(applied.mock.calls.map(([c, previous]) => [c.name, previous?.name])).toEqual([
      ["v1", undefined],
      ["v2", undefined],
    ]);
  });

  it("revalidates in the background after CONFIG_REVALIDATE_MS, serving what it has meanwhile", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      let n = 0;
      const cache = new ConfigCache(
        async () => config(`v${++n}`),
        () => {},
      );
      expect((await cache.get(ref))?.name).toBe("v1");
      vi.setSystemTime(Date.now() + CONFIG_REVALIDATE_MS + 1);
      expect((await cache.get(ref))?.name).toBe("v1");
      await vi.waitFor(() => expect(cache.current?.name).toBe("v2"));
    } finally {
      vi.useRealTimers();
    }
  });

  it("latest() loads the preset it last served, and nothing before it served one", async () => {
    const cache = new ConfigCache(
      async (r) => config(`${r.handle}/${r.slug}`),
      () => {},
    );
    expect(await cache.latest()).toBeNull();
    await cache.get(ref);
    cache.invalidate();
    expect((await cache.latest())?.name).toBe("alice/research");
  });

  it("caches a preset that does not exist (null) like any other answer", async () => {
    const load = vi.fn(async () => null);
    const cache = new ConfigCache(load, () => {});
    expect(await cache.get(ref)).toBeNull();
    expect(await cache.get(ref)).toBeNull();
    expect(load).toHaveBeenCalledTimes(1);
  });
});
