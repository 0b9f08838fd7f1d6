import { timingSafeEqual } from "../shared/ids";
import { hashToken, looksLikeApiToken } from "./api-tokens";

/** The bearer credential of an Authorization header, or null when there is none. */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return m ? (m[1] ?? null) : "";
}

export function isAdminToken(token: string, adminToken: string | undefined): boolean {
  return !!adminToken && adminToken.length >= 16 && timingSafeEqual(token, adminToken);
}

const LAST_USED_GRANULARITY_MS = 60_000;

/**
 * Resolves an API token to its user with one indexed D1 read. `last_used_at` is refreshed at
 * most once a minute, off the response path.
 */
export async function resolveApiToken(
  db: D1Database,
  token: string,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<string | null> {
  if (!looksLikeApiToken(token)) return null;
  const hash = await hashToken(token);
  const row = await db
    .prepare("SELECT id, user_id, last_used_at FROM api_tokens WHERE token_hash = ?")
    .bind(hash)
    .first<{ id: string; user_id: string; last_used_at: number | null }>();
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
  return row.user_id;
}
