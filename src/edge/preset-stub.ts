import type { PresetGateway } from "../preset/gateway";
import type { Bindings } from "../shared/bindings";

/**
 * @module How the worker reaches a preset's Durable Object: by name, over typed RPC. This and the
 * entry are the only modules that see the object's class; everything else takes `Bindings`.
 */

/** The worker's whole environment: the bindings plus the preset objects' namespace. */
export interface Env extends Bindings {
  PRESETS: DurableObjectNamespace<PresetGateway>;
}

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

/**
 * A user's own credentials for a server changed (connected, key set, disconnected): the objects
 * of every preset the server is attached to forget what they resolved for that user and close
 * that user's upstream sessions of it, so the next call uses the new credentials (or none).
 */
export async function announceCredentialsChanged(env: Env, serverId: string, userId: string): Promise<void> {
  const { results } = await env.DB.prepare(
    `SELECT u.handle, p.slug FROM preset_servers ps JOIN presets p ON p.id = ps.preset_id JOIN users u ON u.id = p.owner_id WHERE ps.server_id = ?1`,
  )
    .bind(serverId)
    .all<{ handle: string; slug: string }>();
  await Promise.all(
    results.map(({ handle, slug }) =>
      presetStub(env, handle, slug)
        .credentialsChanged(serverId, userId)
        .catch((e: unknown) => console.error("credential change not announced", handle, slug, e)),
    ),
  );
}

/**
 * One of the user's API tokens was revoked: tells the objects of the presets the user owns or is a
 * member of, so streams opened with an API token close now instead of when they time out. On any
 * other preset (public, of another owner) such a stream carries only what an anonymous caller may
 * hear (no upstream log lines), and it closes within STANDALONE_MAX_MS; resuming needs a valid token.
 */
export async function announceTokenRevoked(env: Env, userId: string): Promise<void> {
  const { results } = await env.DB.prepare(
    `SELECT u.handle, p.slug FROM presets p JOIN users u ON u.id = p.owner_id
     WHERE p.owner_id = ?1 OR p.id IN (SELECT preset_id FROM preset_members WHERE user_id = ?1)`,
  )
    .bind(userId)
    .all<{ handle: string; slug: string }>();
  await Promise.all(
    results.map(({ handle, slug }) =>
      presetStub(env, handle, slug)
        .apiTokenRevoked(userId)
        .catch((e: unknown) => console.error("token revocation not announced", handle, slug, e)),
    ),
  );
}
