/**
 * @module Users' API tokens: issued once, stored only as a hash, resolved to their user on every
 * authenticated request (the management API, the MCP endpoint, the OAuth sign-in form).
 */

import { sha256Hex } from "../shared/crypto";
import { randomToken } from "../shared/ids";

/** Every API token starts with this, so leaked tokens are easy to recognise and scan for. */
export const TOKEN_PREFIX = "mcpg_";

export interface IssuedToken {
  /** The secret, shown to its owner once. */
  token: string;
  /** What the database stores instead of the token. */
  hash: string;
  /** The first characters, safe to show in lists. */
  prefix: string;
}

/** A new API token: 40 random base-36 characters (~206 bits), stored only as its SHA-256. */
export async function issueToken(): Promise<IssuedToken> {
  const token = TOKEN_PREFIX + randomToken(40);
  return { token, hash: await hashToken(token), prefix: token.slice(0, TOKEN_PREFIX.length + 6) };
}

/**
 * Tokens carry enough entropy that a fast hash is safe: no one can brute-force 206 bits, so a
 * slow KDF would only add latency to every authenticated request.
 */
export function hashToken(token: string): Promise<string> {
  return sha256Hex(token);
}

/**
 * What a token may do: `manage` reaches the management API and the MCP endpoints; `mcp` only the
 * MCP endpoints (and the OAuth sign-in that leads to them), so a token pasted into an editor's
 * configuration cannot read or change servers, presets or secrets.
 */
export type TokenScope = "manage" | "mcp";
export const TOKEN_SCOPES = ["manage", "mcp"] as const satisfies readonly TokenScope[];

export function looksLikeApiToken(value: string): boolean {
  return value.startsWith(TOKEN_PREFIX) && value.length === TOKEN_PREFIX.length + 40;
}

const LAST_USED_GRANULARITY_MS = 60_000;

/**
 * Resolves an API token to its user with one indexed D1 read. `last_used_at` is refreshed at
 * most once a minute, off the response path.
 */
export async function resolveApiToken(db: D1Database, token: string, waitUntil: (p: Promise<unknown>) => void): Promise<string | null> {
  return (await resolveApiTokenScope(db, token, waitUntil))?.userId ?? null;
}

/** Like {@link resolveApiToken}, with the token's scope, for the routes that check it. */
export async function resolveApiTokenScope(
  db: D1Database,
  token: string,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<{ userId: string; scope: TokenScope } | null> {
  if (!looksLikeApiToken(token)) return null;
  const hash = await hashToken(token);
  const row = await db
    .prepare("SELECT id, user_id, last_used_at, scope FROM api_tokens WHERE token_hash = ?")
    .bind(hash)
    .first<{ id: string; user_id: string; last_used_at: number | null; scope: string }>();
  if (!row) return null;
  const now = Date.now();
  if (!row.last_used_at || now - row.last_used_at > LAST_USED_GRANULARITY_MS) {
    waitUntil(
      db
        .prepare("UPDATE api_tokens SET last_used_at = ? WHERE id = ?")
        .bind(now, row.id)
        .run()
        .catch((e) => console.warn("last_used_at update failed", e)),
    );
  }
  return { userId: row.user_id, scope: row.scope === "manage" ? "manage" : "mcp" };
}
