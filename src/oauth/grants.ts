import { and, eq, isNull } from "drizzle-orm";
import { raiseAlert } from "../alerts/alert";
import { getDb } from "../db/client";
import { insertEvent } from "../db/events-repository";
import { oauthCodes, oauthGrants, oauthRefreshTokens, presets, users } from "../db/schema";
import { type Env, presetStub } from "../edge/preset-stub";
import { decryptSecret, encryptSecret, sha256Hex } from "../shared/crypto";
import { newId, randomToken } from "../shared/ids";
import { currentSecret, signJwt } from "./keys";

/** Lifetimes: codes are exchanged at once by clients; access tokens are short; refresh tokens rotate. */
export const CODE_TTL_MS = 120_000;
export const ACCESS_TOKEN_TTL_S = 3600;
export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 3600 * 1000;
export const ACCESS_TOKEN_TYP = "at+jwt";

export type Grant = typeof oauthGrants.$inferSelect;

/** Records the user's approval: a grant (and its audit event, in the same batch). */
export async function createGrant(
  env: Env,
  g: { userId: string; clientId: string; presetId: string; ownerId: string; resource: string; scope: string },
): Promise<Grant> {
  const db = getDb(env.DB);
  const now = Date.now();
  const grant: Grant = { id: newId("grt", now), ...g, createdAt: now, revokedAt: null, revokedReason: null };
  delete (grant as Record<string, unknown>).ownerId;
  await db.batch([
    db.insert(oauthGrants).values(grant),
    insertEvent(
      db,
      {
        ownerId: g.ownerId,
        presetId: g.presetId,
        actorId: g.userId,
        type: "grant.issued",
        target: g.clientId,
        payload: { grantId: grant.id, clientId: g.clientId, scope: g.scope },
      },
      now,
    ),
  ]);
  return grant;
}

export async function issueCode(env: Env, grantId: string, redirectUri: string, codeChallenge: string): Promise<string> {
  const code = `mcpa_${randomToken(40)}`;
  await getDb(env.DB)
    .insert(oauthCodes)
    .values({ codeHash: await sha256Hex(code), grantId, redirectUri, codeChallenge, expiresAt: Date.now() + CODE_TTL_MS });
  return code;
}

/**
 * Marks a code used and returns it with its grant. A code presented twice revokes its grant
 * (RFC 6749 §4.1.2, OAuth 2.1 §4.1.3): whoever holds it, the tokens it gave are not trusted.
 */
export async function redeemCode(env: Env, code: string): Promise<{ row: typeof oauthCodes.$inferSelect; grant: Grant } | { problem: string }> {
  const db = getDb(env.DB);
  const hash = await sha256Hex(code);
  const row = await db.select().from(oauthCodes).where(eq(oauthCodes.codeHash, hash)).get();
  if (!row) return { problem: "The authorization code is not valid." };
  const grant = await db.select().from(oauthGrants).where(eq(oauthGrants.id, row.grantId)).get();
  if (!grant) return { problem: "The authorization code is not valid." };
  const now = Date.now();
  const claimed = await db
    .update(oauthCodes)
    .set({ usedAt: now })
    .where(and(eq(oauthCodes.codeHash, hash), isNull(oauthCodes.usedAt)))
    .returning({ codeHash: oauthCodes.codeHash });
  if (claimed.length === 0) {
    await revokeGrant(env, grant, "code_reused", null);
    return { problem: "The authorization code was already used; its grant is revoked." };
  }
  if (row.expiresAt < now) return { problem: "The authorization code expired." };
  if (grant.revokedAt) return { problem: "The grant was revoked." };
  return { row, grant };
}

export interface TokenPair {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  scope: string;
}

/** A new pair for a grant, not yet stored: the refresh token's hash is what gets stored. */
async function mintTokens(env: Env, issuer: string, grant: Grant): Promise<{ pair: TokenPair; refreshHash: string }> {
  const refresh = `mcpr_${randomToken(48)}`;
  const accessToken = await signJwt(
    env,
    { scope: grant.scope, client_id: grant.clientId, gid: grant.id },
    { typ: ACCESS_TOKEN_TYP, expiresInSeconds: ACCESS_TOKEN_TTL_S, audience: grant.resource, issuer, subject: grant.userId },
  );
  return {
    pair: { access_token: accessToken, token_type: "Bearer", expires_in: ACCESS_TOKEN_TTL_S, refresh_token: refresh, scope: grant.scope },
    refreshHash: await sha256Hex(refresh),
  };
}

/** A fresh access token (JWT, ≤ 1 h) and a rotating refresh token for a grant. */
export async function issueTokens(env: Env, issuer: string, grant: Grant): Promise<TokenPair> {
  const { pair, refreshHash } = await mintTokens(env, issuer, grant);
  const now = Date.now();
  await getDb(env.DB)
    .insert(oauthRefreshTokens)
    .values({ tokenHash: refreshHash, grantId: grant.id, createdAt: now, expiresAt: now + REFRESH_TOKEN_TTL_MS });
  return pair;
}

/**
 * How long a used refresh token still answers with the pair its first use got: a client that
 * double-fires a refresh (a retry, two tabs) keeps its grant. Later reuse revokes the grant.
 */
export const REFRESH_GRACE_MS = 10_000;

export type RefreshTokenRow = typeof oauthRefreshTokens.$inferSelect;

const sealedFor = (row: RefreshTokenRow) => `oauth-refresh:${row.tokenHash}`;

/** Whether a used token still answers with its first use's pair (and has it sealed). */
const inGrace = (row: RefreshTokenRow, now: number): row is RefreshTokenRow & { usedAt: number; successorSealed: string } =>
  row.usedAt !== null && now - row.usedAt <= REFRESH_GRACE_MS && !!row.successorSealed;

/** The pair a used token's first use got, while the grace window is open; null otherwise. */
async function pairWithinGrace(env: Env, row: RefreshTokenRow, now: number): Promise<TokenPair | null> {
  if (!inGrace(row, now)) return null;
  try {
    return JSON.parse(await decryptSecret(currentSecret(env), row.successorSealed, sealedFor(row))) as TokenPair;
  } catch (e) {
    console.error("sealed refresh reply did not open", e);
    return null;
  }
}

/**
 * Looks a refresh token up without using it. A token used before, and outside the grace window,
 * means it leaked (or a client misbehaves): the whole grant is revoked.
 */
export async function findRefreshToken(env: Env, token: string): Promise<{ row: RefreshTokenRow; grant: Grant } | { problem: string }> {
  const db = getDb(env.DB);
  const row = await db
    .select()
    .from(oauthRefreshTokens)
    .where(eq(oauthRefreshTokens.tokenHash, await sha256Hex(token)))
    .get();
  if (!row) return { problem: "The refresh token is not valid." };
  const grant = await db.select().from(oauthGrants).where(eq(oauthGrants.id, row.grantId)).get();
  if (!grant || grant.revokedAt) return { problem: "The grant was revoked." };
  const now = Date.now();
  if (row.usedAt !== null && !inGrace(row, now)) {
    await revokeGrant(env, grant, "refresh_token_reused", null);
    return { problem: "The refresh token was already used; its grant is revoked." };
  }
  if (row.usedAt === null && row.expiresAt < now) return { problem: "The refresh token expired." };
  return { row, grant };
}

/**
 * Uses a refresh token found by findRefreshToken: a new pair, or, within REFRESH_GRACE_MS of its
 * first use, the very pair that use got. The token is claimed, the new refresh token stored and
 * the reply sealed (AES-GCM, bound to the used token) in one D1 batch, so of two concurrent
 * refreshes exactly one mints and the other answers with its pair.
 */
export async function rotateRefreshToken(env: Env, issuer: string, found: { row: RefreshTokenRow; grant: Grant }): Promise<TokenPair | { problem: string }> {
  const { row, grant } = found;
  const now = Date.now();
  if (row.usedAt === null) {
    const { pair, refreshHash } = await mintTokens(env, issuer, grant);
    const sealed = await encryptSecret(currentSecret(env), JSON.stringify(pair), sealedFor(row));
    const [claimed] = await env.DB.batch([
      env.DB.prepare("UPDATE oauth_refresh_tokens SET used_at = ?, successor_hash = ?, successor_sealed = ? WHERE token_hash = ? AND used_at IS NULL").bind(
        now,
        refreshHash,
        sealed,
        row.tokenHash,
      ),
      env.DB.prepare(
        `INSERT INTO oauth_refresh_tokens (token_hash, grant_id, created_at, expires_at)
         SELECT ?, grant_id, ?, ? FROM oauth_refresh_tokens WHERE token_hash = ? AND successor_hash = ?`,
      ).bind(refreshHash, now, now + REFRESH_TOKEN_TTL_MS, row.tokenHash, refreshHash),
    ]);
    if (claimed?.meta.changes === 1) return pair;
  }
  // Another request used it first: within the grace window before this one (row says so), or
  // concurrently, having just claimed it (read it again for that use's pair).
  const current =
    row.usedAt !== null ? row : await getDb(env.DB).select().from(oauthRefreshTokens).where(eq(oauthRefreshTokens.tokenHash, row.tokenHash)).get();
  const pair = current ? await pairWithinGrace(env, current, now) : null;
  if (pair) return pair;
  await revokeGrant(env, grant, "refresh_token_reused", null);
  return { problem: "The refresh token was already used; its grant is revoked." };
}

/** The grant a refresh token belongs to, without using it (for revocation). */
export async function grantOfRefreshToken(env: Env, token: string): Promise<Grant | null> {
  const db = getDb(env.DB);
  const row = await db
    .select()
    .from(oauthRefreshTokens)
    .where(eq(oauthRefreshTokens.tokenHash, await sha256Hex(token)))
    .get();
  if (!row) return null;
  return (await db.select().from(oauthGrants).where(eq(oauthGrants.id, row.grantId)).get()) ?? null;
}

/**
 * Revokes a grant: its refresh tokens stop working at once, and the preset's Durable Object is
 * told so that access tokens already issued for it are refused too (they carry the grant id).
 */
export async function revokeGrant(env: Env, grant: Grant, reason: string, actorId: string | null, waitUntil?: (p: Promise<unknown>) => void): Promise<void> {
  if (grant.revokedAt) return;
  const db = getDb(env.DB);
  const now = Date.now();
  const preset = await db
    .select({ ownerId: presets.ownerId, slug: presets.slug, handle: users.handle })
    .from(presets)
    .innerJoin(users, eq(users.id, presets.ownerId))
    .where(eq(presets.id, grant.presetId))
    .get();
  await db.batch([
    db
      .update(oauthGrants)
      .set({ revokedAt: now, revokedReason: reason })
      .where(and(eq(oauthGrants.id, grant.id), isNull(oauthGrants.revokedAt))),
    insertEvent(
      db,
      {
        ownerId: preset?.ownerId ?? grant.userId,
        presetId: grant.presetId,
        actorId,
        type: "grant.revoked",
        target: grant.clientId,
        payload: { grantId: grant.id, reason },
      },
      now,
    ),
  ]);
  grant.revokedAt = now;
  const alerted = raiseAlert(env, {
    type: "grant.revoked",
    ownerId: preset?.ownerId ?? grant.userId,
    presetId: grant.presetId,
    preset: preset ? `${preset.handle}/${preset.slug}` : null,
    target: grant.clientId,
    data: { grantId: grant.id, clientId: grant.clientId, reason },
    at: now,
  });
  if (waitUntil) waitUntil(alerted);
  else await alerted;
  if (preset) {
    await presetStub(env, preset.handle, preset.slug)
      .revokeGrants([grant.id], now + ACCESS_TOKEN_TTL_S * 1000 + 60_000)
      .catch((e: unknown) => console.error("grant revocation not delivered to the preset", e));
  }
}
