/**
 * @module Consumers' upstream credentials in D1 (`upstream_credentials`): one row per (user,
 * server, kind), the secret sealed with AES-GCM bound to its row (sealing.ts), never returned by
 * any read here except to the caller that sends it upstream.
 *
 * Refresh is race-safe without a lock service: a refresher first claims the row's
 * `refresh_lease` with a conditional update on its `version`; only the claimant calls the token
 * endpoint, and its write is conditional on that same version. Others use the current token while
 * it lasts, or wait for the new version.
 */
import { and, count, eq, isNull, lt, or, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb } from "../db/client";
import { type CredentialKind, servers, upstreamCredentials, users } from "../db/schema";
import type { Bindings } from "../shared/bindings";
import { decryptSecret, encryptSecret } from "../shared/crypto";
import { ApiError } from "../shared/errors";
import { credentialBinding, sealingKey } from "./sealing";
import type { TokenSet } from "./tokens";

/** The most upstream credentials one user may keep (oauth and headers rows counted apart). */
export const MAX_CREDENTIALS_PER_USER = 100;
/** How long a refresh claim holds before another caller may try. */
export const REFRESH_LEASE_MS = 20_000;

export type CredentialRow = typeof upstreamCredentials.$inferSelect;

const OAuthSecret = z.strictObject({ accessToken: z.string(), refreshToken: z.string().nullable() });
const HeadersSecret = z.strictObject({ headers: z.record(z.string(), z.string()) });

async function seal(env: Bindings, userId: string, serverId: string, kind: CredentialKind, value: unknown): Promise<string> {
  return encryptSecret(sealingKey(env), JSON.stringify(value), credentialBinding(userId, serverId, kind));
}

async function open<S extends z.ZodType>(env: Bindings, row: CredentialRow, schema: S): Promise<z.output<S>> {
  const text = await decryptSecret(sealingKey(env), row.secretEnc, credentialBinding(row.userId, row.serverId, row.kind));
  return schema.parse(JSON.parse(text));
}

export const openOAuth = (env: Bindings, row: CredentialRow) => open(env, row, OAuthSecret);
export const openUserHeaders = async (env: Bindings, row: CredentialRow) => (await open(env, row, HeadersSecret)).headers;

const key = (userId: string, serverId: string, kind: CredentialKind) =>
  and(eq(upstreamCredentials.userId, userId), eq(upstreamCredentials.serverId, serverId), eq(upstreamCredentials.kind, kind));

/** The user's rows for one server (at most one per kind). */
export async function findCredentials(env: Bindings, userId: string, serverId: string): Promise<CredentialRow[]> {
  return getDb(env.DB)
    .select()
    .from(upstreamCredentials)
    .where(and(eq(upstreamCredentials.userId, userId), eq(upstreamCredentials.serverId, serverId)));
}

async function assertRoom(env: Bindings, userId: string, serverId: string, kind: CredentialKind): Promise<void> {
  const db = getDb(env.DB);
  const [existing] = await db
    .select({ n: count() })
    .from(upstreamCredentials)
    .where(key(userId, serverId, kind));
  if ((existing?.n ?? 0) > 0) return;
  const [all] = await db.select({ n: count() }).from(upstreamCredentials).where(eq(upstreamCredentials.userId, userId));
  if ((all?.n ?? 0) >= MAX_CREDENTIALS_PER_USER) {
    throw new ApiError(409, "too_many_connections", `You have ${MAX_CREDENTIALS_PER_USER} upstream connections; remove one first.`);
  }
}

interface Upsert {
  userId: string;
  serverId: string;
  kind: CredentialKind;
  secretEnc: string;
  resource: string;
  issuer: string | null;
  scope: string | null;
  headerNames: string;
  expiresAt: number | null;
}

async function upsert(env: Bindings, v: Upsert, now: number): Promise<void> {
  await assertRoom(env, v.userId, v.serverId, v.kind);
  const row = { ...v, version: 1, refreshLease: null, createdAt: now, updatedAt: now };
  await getDb(env.DB)
    .insert(upstreamCredentials)
    .values(row)
    .onConflictDoUpdate({
      target: [upstreamCredentials.userId, upstreamCredentials.serverId, upstreamCredentials.kind],
      set: { ...v, version: sql`${upstreamCredentials.version} + 1`, refreshLease: null, createdAt: now, updatedAt: now },
    });
}

/** Stores a consumer's tokens for a server (replacing earlier ones). */
export async function saveTokens(env: Bindings, userId: string, serverId: string, resource: string, issuer: string, tokens: TokenSet, now = Date.now()) {
  const secretEnc = await seal(env, userId, serverId, "oauth", { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken });
  await upsert(env, { userId, serverId, kind: "oauth", secretEnc, resource, issuer, scope: tokens.scope, headerNames: "[]", expiresAt: tokens.expiresAt }, now);
}

/** Stores a consumer's header values for a server (replacing earlier ones). */
export async function saveUserHeaders(env: Bindings, userId: string, serverId: string, resource: string, headers: Record<string, string>, now = Date.now()) {
  const secretEnc = await seal(env, userId, serverId, "headers", { headers });
  const headerNames = JSON.stringify(Object.keys(headers));
  await upsert(env, { userId, serverId, kind: "headers", secretEnc, resource, issuer: null, scope: null, headerNames, expiresAt: null }, now);
}

/** Claims the right to refresh `row`; false when another caller holds it or the row changed. */
export async function claimRefresh(env: Bindings, row: CredentialRow, now = Date.now()): Promise<boolean> {
  const res = await getDb(env.DB)
    .update(upstreamCredentials)
    .set({ refreshLease: now + REFRESH_LEASE_MS })
    .where(
      and(
        key(row.userId, row.serverId, "oauth"),
        eq(upstreamCredentials.version, row.version),
        or(isNull(upstreamCredentials.refreshLease), lt(upstreamCredentials.refreshLease, now)),
      ),
    )
    .run();
  return res.meta.changes === 1;
}

/** Gives up a claim without changing the tokens (the refresh failed for a passing reason). */
export async function releaseRefresh(env: Bindings, row: CredentialRow): Promise<void> {
  await getDb(env.DB)
    .update(upstreamCredentials)
    .set({ refreshLease: null })
    .where(and(key(row.userId, row.serverId, "oauth"), eq(upstreamCredentials.version, row.version)))
    .run();
}

/** Writes refreshed tokens over the version `row` was read at; false if that version is gone. */
export async function storeRefreshed(env: Bindings, row: CredentialRow, tokens: TokenSet, now = Date.now()): Promise<boolean> {
  const secretEnc = await seal(env, row.userId, row.serverId, "oauth", { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken });
  const res = await getDb(env.DB)
    .update(upstreamCredentials)
    .set({ secretEnc, expiresAt: tokens.expiresAt, scope: tokens.scope, version: row.version + 1, refreshLease: null, updatedAt: now })
    .where(and(key(row.userId, row.serverId, "oauth"), eq(upstreamCredentials.version, row.version)))
    .run();
  return res.meta.changes === 1;
}

/** Deletes `row` if no one rewrote it since it was read (a refresh token the server refused). */
export async function deleteIfUnchanged(env: Bindings, row: CredentialRow): Promise<void> {
  await getDb(env.DB)
    .delete(upstreamCredentials)
    .where(and(key(row.userId, row.serverId, row.kind), eq(upstreamCredentials.version, row.version)))
    .run();
}

/** Deletes every credential of the user for the server; returns the rows deleted. */
export async function deleteCredentials(env: Bindings, userId: string, serverId: string): Promise<CredentialRow[]> {
  return getDb(env.DB)
    .delete(upstreamCredentials)
    .where(and(eq(upstreamCredentials.userId, userId), eq(upstreamCredentials.serverId, serverId)))
    .returning();
}

/** The user's credentials as listed to them: never a secret. */
export async function listCredentials(env: Bindings, userId: string) {
  return getDb(env.DB)
    .select({
      kind: upstreamCredentials.kind,
      server: servers.name,
      owner: users.handle,
      issuer: upstreamCredentials.issuer,
      scope: upstreamCredentials.scope,
      headerNames: upstreamCredentials.headerNames,
      expiresAt: upstreamCredentials.expiresAt,
      createdAt: upstreamCredentials.createdAt,
      updatedAt: upstreamCredentials.updatedAt,
    })
    .from(upstreamCredentials)
    .innerJoin(servers, eq(servers.id, upstreamCredentials.serverId))
    .innerJoin(users, eq(users.id, servers.ownerId))
    .where(eq(upstreamCredentials.userId, userId))
    .orderBy(users.handle, servers.name, upstreamCredentials.kind);
}
