/**
 * @module The preset's configuration as its Durable Object holds it: loaded from D1 once, dropped
 * when the API says it changed (`invalidate`), and re-read in the background at most every
 * CONFIG_REVALIDATE_MS as a safety net. A load that an invalidation raced is done again, so what
 * the object serves is never older than the last change it was told about.
 */
import type { PresetRef } from "../mcp/contract";
import type { PresetConfig } from "./config";

/** The object re-reads its preset from D1 this often even without an invalidation (belt and braces). */
export const CONFIG_REVALIDATE_MS = 60_000;

export class ConfigCache {
  readonly #load: (ref: PresetRef) => Promise<PresetConfig | null>;
  readonly #applied: (config: PresetConfig | null, previous: PresetConfig | null | undefined) => void;
  #config: PresetConfig | null | undefined;
  #loadedAt = 0;
  #generation = 0;
  #loading: Promise<PresetConfig | null> | undefined;
  /** The preset this object serves, once known (background checks reload its config by it). */
  #ref: PresetRef | null = null;

  /** `applied` runs each time a freshly loaded configuration replaces the previous one. */
  constructor(
    load: (ref: PresetRef) => Promise<PresetConfig | null>,
    applied: (config: PresetConfig | null, previous: PresetConfig | null | undefined) => void,
  ) {
    this.#load = load;
    this.#applied = applied;
  }

  /** What is loaded now, without loading: undefined until the first load (or after an invalidation). */
  get current(): PresetConfig | null | undefined {
    return this.#config;
  }

  /** The configuration of the preset at `ref` (null if there is none). */
  async get(ref: PresetRef): Promise<PresetConfig | null> {
    if (this.#config !== undefined) {
      if (Date.now() - this.#loadedAt > CONFIG_REVALIDATE_MS) {
        this.#reload(ref).catch((e) => console.error("preset revalidation failed", e));
      }
      return this.#config;
    }
    return this.#reload(ref);
  }

  /** The configuration of the preset this object last served; null before it served any. */
  latest(): Promise<PresetConfig | null> {
    return this.#ref ? this.get(this.#ref) : Promise.resolve(null);
  }

  /** The preset changed in D1: the next request loads it again. */
  invalidate(): void {
    this.#generation++;
    this.#config = undefined;
    this.#loading = undefined;
  }

  #reload(ref: PresetRef): Promise<PresetConfig | null> {
    this.#ref = { handle: ref.handle, slug: ref.slug };
    if (this.#loading) return this.#loading;
    const generation = this.#generation;
    const loading = this.#load(ref)
      .then((config) => {
        // An invalidation raced this load: what we read may predate the change, so read again.
        if (generation !== this.#generation) return this.#reload(ref);
        const previous = this.#config;
        this.#config = config;
        this.#loadedAt = Date.now();
        this.#applied(config, previous);
        return config;
      })
      .finally(() => {
        if (this.#loading === loading) this.#loading = undefined;
      });
    this.#loading = loading;
    return loading;
  }
}
