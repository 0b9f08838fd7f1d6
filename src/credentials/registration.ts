/**
 * @module The gateway as an OAuth client of an upstream's authorization server: its Client ID
 * Metadata Document (served at /oauth/upstream-client.json) when the server supports those, else a
 * dynamic registration (RFC 7591). Registrations are kept in D1 per (server, issuer); a secret
 * the authorization server hands out is sealed, bound to that pair.
 */
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { getDb } from "../db/client";
import { upstreamOAuthClients } from "../db/schema";
import type { Bindings } from "../shared/bindings";
import { decryptSecret, encryptSecret } from "../shared/crypto";
import type { AuthServerInfo } from "./discovery";
import { type GuardOptions, guardedFetch, UpstreamAuthError } from "./guarded-fetch";
import { sealingKey } from "./sealing";

/** Where the gateway serves its client metadata document, under its public URL. */
export const CLIENT_METADATA_PATH = "/oauth/upstream-client.json";
/** Where upstream authorization servers send consumers back, under the gateway's public URL. */
export const CONNECT_CALLBACK_PATH = "/connect/callback";

/** The gateway's Client ID Metadata Document: its URL is the client id. */
export function clientMetadataDocument(origin: string) {
  return {
    client_id: `${origin}${CLIENT_METADATA_PATH}`,
    client_name: "mcpgate",
    client_uri: origin,
    redirect_uris: [`${origin}${CONNECT_CALLBACK_PATH}`],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
  };
}

export type AuthMethod = "none" | "client_secret_post" | "client_secret_basic";

/** The gateway's registration at one upstream authorization server, secret opened. */
export interface UpstreamClient {
  clientId: string;
  clientSecret: string | null;
  authMethod: AuthMethod;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  revocationEndpoint: string | null;
  redirectUri: string;
}

const Registered = z.looseObject({
  client_id: z.string().min(1).max(1024),
  client_secret: z.string().min(1).max(1024).optional(),
  token_endpoint_auth_method: z.string().max(64).optional(),
});

const bound = (serverId: string, issuer: string) => `${serverId}:${issuer}`;

/** The stored registration for (server, issuer), or null. */
export async function findClient(env: Bindings, serverId: string, issuer: string): Promise<UpstreamClient | null> {
  const row = await getDb(env.DB)
    .select()
    .from(upstreamOAuthClients)
    .where(and(eq(upstreamOAuthClients.serverId, serverId), eq(upstreamOAuthClients.issuer, issuer)))
    .get();
  if (!row) return null;
  return {
    clientId: row.clientId,
    clientSecret: row.clientSecretEnc ? await decryptSecret(sealingKey(env), row.clientSecretEnc, bound(serverId, issuer)) : null,
    authMethod: row.tokenEndpointAuthMethod,
    authorizationEndpoint: row.authorizationEndpoint,
    tokenEndpoint: row.tokenEndpoint,
    revocationEndpoint: row.revocationEndpoint,
    redirectUri: row.redirectUri,
  };
}

async function register(info: AuthServerInfo, origin: string, opts: GuardOptions) {
  if (info.cimdSupported)
    return { registration: "metadata_document" as const, clientId: `${origin}${CLIENT_METADATA_PATH}`, secret: null, method: "none" as const };
  if (!info.registrationEndpoint) {
    throw new UpstreamAuthError("The upstream's authorization server supports neither Client ID Metadata Documents nor dynamic client registration.");
  }
  const { client_id: _, ...metadata } = clientMetadataDocument(origin);
  const res = await guardedFetch(info.registrationEndpoint, "registration endpoint", opts, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(metadata),
  });
  const parsed = Registered.safeParse(res.json);
  if (res.status !== 201 && res.status !== 200)
    throw new UpstreamAuthError(`The authorization server refused the gateway's registration (HTTP ${res.status}).`);
  if (!parsed.success) throw new UpstreamAuthError("The authorization server's registration reply is not valid.");
  const secret = parsed.data.client_secret ?? null;
  const declared = parsed.data.token_endpoint_auth_method;
  const method: AuthMethod = !secret ? "none" : declared === "client_secret_post" ? "client_secret_post" : "client_secret_basic";
  return { registration: "dynamic" as const, clientId: parsed.data.client_id, secret, method };
}

/**
 * The gateway's client at the upstream's authorization server: the stored one when it was made
 * for this gateway's callback, else a new registration (stored; the endpoints are refreshed from
 * `info` either way).
 */
export async function ensureClient(env: Bindings, serverId: string, info: AuthServerInfo, origin: string, opts: GuardOptions): Promise<UpstreamClient> {
  const redirectUri = `${origin}${CONNECT_CALLBACK_PATH}`;
  const existing = await findClient(env, serverId, info.issuer);
  const endpoints = {
    authorizationEndpoint: info.authorizationEndpoint,
    tokenEndpoint: info.tokenEndpoint,
    revocationEndpoint: info.revocationEndpoint,
  };
  // A registration made for another callback (the gateway's public URL changed) is made again.
  const usable = existing?.redirectUri === redirectUri;
  const made = usable ? null : await register(info, origin, opts);
  const client: UpstreamClient = made
    ? { clientId: made.clientId, clientSecret: made.secret, authMethod: made.method, redirectUri, ...endpoints }
    : { ...existing!, ...endpoints };
  const row = {
    serverId,
    issuer: info.issuer,
    registration: made?.registration ?? (client.clientId.endsWith(CLIENT_METADATA_PATH) ? ("metadata_document" as const) : ("dynamic" as const)),
    clientId: client.clientId,
    clientSecretEnc: client.clientSecret ? await encryptSecret(sealingKey(env), client.clientSecret, bound(serverId, info.issuer)) : null,
    tokenEndpointAuthMethod: client.authMethod,
    redirectUri,
    ...endpoints,
    createdAt: Date.now(),
  };
  await getDb(env.DB)
    .insert(upstreamOAuthClients)
    .values(row)
    .onConflictDoUpdate({ target: [upstreamOAuthClients.serverId, upstreamOAuthClients.issuer], set: row });
  return client;
}
