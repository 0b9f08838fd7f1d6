/**
 * @module The web console's server-side sessions (table `console_sessions`, migration 0014).
 *
 * The cookie holds a random id (43 base-36 characters, ~220 bits); D1 stores only its SHA-256, so
 * rows read from a backup cannot be replayed as cookies. A session ends 12 hours after it was last
 * used (idle) or 7 days after sign-in (absolute), whichever comes first, and at sign-out. A user
 * keeps at most {@link MAX_SESSIONS_PER_USER}: signing in once more drops the oldest. Revoking the
 * API token that was used to sign in does not end a session (the token only proved who the user is).
 */
import { sha256Hex, timingSafeEqual } from "../shared/crypto";
import { randomToken } from "../shared/ids";

export const IDLE_TTL_MS = 12 * 3600_000;
export const ABSOLUTE_TTL_MS = 7 * 24 * 3600_000;
export const MAX_SESSIONS_PER_USER = 20;
/** `last_seen` is written at most this often, off the response path. */
const TOUCH_GRANULARITY_MS = 60_000;
const SESSION_ID = /^[a-z0-9]{43}$/;

export interface ConsoleSession {
  idHash: string;
  userId: string;
  csrf: string;
}

/** Starts a session for `userId`: returns the cookie value (shown to nobody else) and its row. */
export async function createSession(db: D1Database, userId: string, now = Date.now()): Promise<{ cookie: string; session: ConsoleSession }> {
  const cookie = randomToken(43);
  const session = { idHash: await sha256Hex(cookie), userId, csrf: randomToken(43) };
  await db.batch([
    db
      .prepare("INSERT INTO console_sessions (id_hash, user_id, csrf, created_at, last_seen, expires_at) VALUES (?, ?, ?, ?, ?, ?)")
      .bind(session.idHash, userId, session.csrf, now, now, now + ABSOLUTE_TTL_MS),
    // Expired rows of this user go, and all but the newest MAX_SESSIONS_PER_USER.
    db
      .prepare(
        `DELETE FROM console_sessions WHERE user_id = ?1 AND (expires_at <= ?2 OR last_seen <= ?3 OR id_hash NOT IN
           (SELECT id_hash FROM console_sessions WHERE user_id = ?1 ORDER BY created_at DESC, id_hash LIMIT ${MAX_SESSIONS_PER_USER}))`,
      )
      .bind(userId, now, now - IDLE_TTL_MS),
  ]);
  return { cookie, session };
}

/** The live session a cookie names, or null (absent, malformed, unknown, idle too long, or past its absolute end). */
export async function readSession(
  db: D1Database,
  cookie: string | undefined,
  waitUntil: (p: Promise<unknown>) => void,
  now = Date.now(),
): Promise<ConsoleSession | null> {
  if (!cookie || !SESSION_ID.test(cookie)) return null;
  const idHash = await sha256Hex(cookie);
  const row = await db
    .prepare("SELECT user_id, csrf, last_seen, expires_at FROM console_sessions WHERE id_hash = ?")
    .bind(idHash)
    .first<{ user_id: string; csrf: string; last_seen: number; expires_at: number }>();
  if (!row) return null;
  if (row.expires_at <= now || row.last_seen + IDLE_TTL_MS <= now) {
    waitUntil(deleteSession(db, idHash).catch((e) => console.warn("expired console session not deleted", e)));
    return null;
  }
  if (now - row.last_seen > TOUCH_GRANULARITY_MS) {
    waitUntil(
      db
        .prepare("UPDATE console_sessions SET last_seen = ? WHERE id_hash = ?")
        .bind(now, idHash)
        .run()
        .catch((e) => console.warn("console session last_seen update failed", e)),
    );
  }
  return { idHash, userId: row.user_id, csrf: row.csrf };
}

export async function deleteSession(db: D1Database, idHash: string): Promise<void> {
  await db.prepare("DELETE FROM console_sessions WHERE id_hash = ?").bind(idHash).run();
}

/** Whether a form's CSRF field is this session's token. */
export function csrfMatches(session: ConsoleSession, submitted: unknown): boolean {
  return typeof submitted === "string" && submitted.length > 0 && timingSafeEqual(submitted, session.csrf);
}
