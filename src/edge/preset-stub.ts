import type { Env } from "../shared/bindings";

/** Durable Object name of a preset: its URL path, so the MCP route needs no lookup to find it. */
export function presetObjectName(handle: string, slug: string): string {
  return `${handle}/${slug}`;
}

export function presetStub(env: Env, handle: string, slug: string) {
  return env.PRESETS.getByName(presetObjectName(handle, slug));
}

/**
 * Tells the presets' Durable Objects that their configuration changed in D1, so the next MCP
 * request sees it. Awaited by the API so a client reading after a write sees the write.
 */
export async function invalidatePresets(env: Env, handle: string, slugs: Iterable<string>): Promise<void> {
  await Promise.all(
    [...new Set(slugs)].map((slug) =>
      presetStub(env, handle, slug)
        .invalidate({ handle, slug })
        .catch((e: unknown) => console.error("preset invalidation failed", handle, slug, e)),
    ),
  );
}
