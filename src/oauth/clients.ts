import { and, eq, gt } from "drizzle-orm";
import { z } from "zod";
import { getDb } from "../db/client";
import { oauthCimdFailures, oauthClients } from "../db/schema";
import type { Bindings } from "../shared/bindings";
import { sha256Hex, timingSafeEqual } from "../shared/crypto";
import { randomToken } from "../shared/ids";
import { readLimitedText } from "../shared/read-limited";
import { checkUpstreamUrl } from "../shared/url-guard";
import { OAuthError } from "./errors";

/**
 * OAuth clients: registered dynamically (RFC 7591) or identified by the URL of their Client ID
 * Metadata Document, which is fetched (SSRF-guarded, size-capped, with a timeout), checked and
 * cached for an hour; a failed fetch is remembered for a minute and answered with one generic error.
 */
export interface OAuthClient {
  id: string;
  kind: "registered" | "metadata_document";
  name: string;
  redirectUris: string[];
  authMethod: "none" | "client_secret_post" | "client_secret_basic";
  secretHash: string | null;
}

const CIMD_TTL_MS = 60 * 60 * 1000;
const CIMD_MAX_BYTES = 16 * 1024;
const CIMD_TIMEOUT_MS = 5_000;

/** https, or http on a loopback host (native apps, RFC 8252 §7.3); never a fragment. */
export function redirectUriProblem(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not an absolute URL";
  }
  if (url.hash) return "must not contain a fragment";
  if (url.protocol === "https:") return null;
  const loopback = url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]";
  if (url.protocol === "http:" && loopback) return null;
  return "must use https, or http on a loopback address";
}

const RedirectUris = z
  .array(z.string().max(2000))
  .min(1, "needs at least one redirect URI")
  .max(10, "may list at most 10 redirect URIs")
  .superRefine((uris, ctx) => {
    for (const uri of uris) {
      const problem = redirectUriProblem(uri);
      if (problem) ctx.addIssue({ code: "custom", message: `${uri} ${problem}` });
    }
  });

const Uri = z.string().max(2000);

/**
 * The RFC 7591 §2 client metadata the gateway keeps, each bounded. Anything else a client sends is
 * dropped (RFC 7591 lets a server ignore what it does not support): never stored, never echoed.
 * `jwks`/`jwks_uri` are among the dropped, since no key-based client authentication is offered.
 */
export const ClientMetadata = z.object({
  redirect_uris: RedirectUris,
  client_name: z.string().max(200).optional(),
  client_uri: Uri.optional(),
  logo_uri: Uri.optional(),
  tos_uri: Uri.optional(),
  policy_uri: Uri.optional(),
  contacts: z.array(z.string().max(320)).max(5).optional(),
  software_id: z.string().max(200).optional(),
  software_version: z.string().max(100).optional(),
  scope: z.string().max(500).optional(),
  token_endpoint_auth_method: z.enum(["none", "client_secret_post", "client_secret_basic"]).default("none"),
  grant_types: z
    .array(z.string().max(100))
    .max(5)
    .default(["authorization_code", "refresh_token"])
    .refine((g) => g.every((t) => t === "authorization_code" || t === "refresh_token"), "only authorization_code and refresh_token are supported"),
  response_types: z
    .array(z.string().max(100))
    .max(5)
    .default(["code"])
    .refine((r) => r.every((t) => t === "code"), "only the code response type is supported"),
});

/** Largest registration body read, in bytes; a larger one is refused before it is parsed. */
export const REGISTRATION_MAX_BYTES = 16 * 1024;
/** Registrations one client address (IPv4 address or IPv6 /64) may make per window. */
export const REGISTRATIONS_PER_WINDOW = 20;
export const REGISTRATION_WINDOW_MS = 60 * 60 * 1000;

function toClient(row: typeof oauthClients.$inferSelect): OAuthClient {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name ?? row.id,
    redirectUris: JSON.parse(row.redirectUris) as string[],
    authMethod: row.tokenEndpointAuthMethod,
    secretHash: row.secretHash,
  };
}

/**
 * RFC 7591 dynamic registration. Confidential clients get a secret, shown once and stored hashed.
 * `registeredBy` is the caller's address bucket (policy/caller-key.ts, of the trusted address):
 * the row is inserted only while fewer than REGISTRATIONS_PER_WINDOW rows of the same key are younger than the window, counted and
 * inserted in one statement, so concurrent registrations cannot overshoot.
 */
export async function registerClient(env: Bindings, body: unknown, registeredBy: string, now = Date.now()) {
  const parsed = ClientMetadata.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join(".") || "body";
    const code = field.startsWith("redirect_uris") ? "invalid_redirect_uri" : "invalid_client_metadata";
    throw new OAuthError(code, `${field}: ${issue.message}`);
  }
  const meta = parsed.data;
  const id = `mcpc_${randomToken(24)}`;
  const secret = meta.token_endpoint_auth_method === "none" ? null : `mcps_${randomToken(40)}`;
  const by = (await sha256Hex(`registration:${registeredBy}`)).slice(0, 32);
  const since = now - REGISTRATION_WINDOW_MS;
  const inserted = await env.DB.prepare(
    `INSERT INTO oauth_clients (id, kind, name, redirect_uris, token_endpoint_auth_method, secret_hash, metadata, created_at, registered_by)
     SELECT ?, 'registered', ?, ?, ?, ?, ?, ?, ?
     WHERE (SELECT count(*) FROM oauth_clients WHERE registered_by = ? AND created_at > ?) < ?`,
  )
    .bind(
      id,
      meta.client_name ?? null,
      JSON.stringify(meta.redirect_uris),
      meta.token_endpoint_auth_method,
      secret ? await sha256Hex(secret) : null,
      JSON.stringify(meta),
      now,
      by,
      by,
      since,
      REGISTRATIONS_PER_WINDOW,
    )
    .run();
  if (inserted.meta.changes !== 1) {
    const oldest = await env.DB.prepare("SELECT min(created_at) AS t FROM oauth_clients WHERE registered_by = ? AND created_at > ?")
      .bind(by, since)
      .first<{ t: number | null }>();
    const retryAfter = Math.max(1, Math.ceil(((oldest?.t ?? now) + REGISTRATION_WINDOW_MS - now) / 1000));
    throw new OAuthError("rate_limited", `At most ${REGISTRATIONS_PER_WINDOW} client registrations per hour from one address; retry in ${retryAfter} s.`, 429, {
      "retry-after": String(retryAfter),
    });
  }
  return {
    ...meta,
    client_id: id,
    client_id_issued_at: Math.floor(now / 1000),
    ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
  };
}

/** A client id that is a URL names a Client ID Metadata Document. */
export function isMetadataDocumentId(clientId: string): boolean {
  return /^https?:\/\//.test(clientId);
}

/** A failed metadata-document fetch is remembered this long: the URL is not fetched again meanwhile. */
export const CIMD_FAILURE_TTL_MS = 60_000;
/**
 * The one answer for a metadata document that could not be used, however it failed: the
 * authorization endpoint is unauthenticated, so the gateway must not report on what an arbitrary
 * URL answers (reachable or not, its status, its size, its content). The reason is logged.
 */
export const CIMD_FAILED = "The client's metadata document could not be fetched, or is not a valid one for this gateway.";

/** The client with this id, fetching (or refreshing) its metadata document when it is a URL. */
export async function findClient(env: Bindings, clientId: string, fetcher: typeof fetch = fetch): Promise<OAuthClient | null> {
  if (!clientId || clientId.length > 2000) return null;
  const db = getDb(env.DB);
  const row = await db.select().from(oauthClients).where(eq(oauthClients.id, clientId)).get();
  if (!isMetadataDocumentId(clientId)) return row ? toClient(row) : null;
  if (row?.fetchedAt && Date.now() - row.fetchedAt < CIMD_TTL_MS) return toClient(row);
  // The URL's own problems are the caller's to see (nothing was fetched); what a fetch met is not.
  const check = checkUpstreamUrl(clientId, { allowInsecure: env.ALLOW_INSECURE_UPSTREAMS === "true" });
  if (!check.ok) throw new OAuthError("invalid_client", `client_id ${check.reason}`);
  if (check.url.pathname === "/") throw new OAuthError("invalid_client", "client_id must be a URL with a path");
  const failed = await db
    .select({ failedAt: oauthCimdFailures.failedAt })
    .from(oauthCimdFailures)
    .where(and(eq(oauthCimdFailures.url, clientId), gt(oauthCimdFailures.failedAt, Date.now() - CIMD_FAILURE_TTL_MS)))
    .get();
  if (failed) throw new OAuthError("invalid_client", CIMD_FAILED);
  let meta: Awaited<ReturnType<typeof fetchMetadataDocument>>;
  try {
    meta = await fetchMetadataDocument(check.url, clientId, fetcher);
  } catch (e) {
    console.warn("client metadata document refused", clientId, e instanceof Error ? e.message : e);
    const failedAt = Date.now();
    await db.insert(oauthCimdFailures).values({ url: clientId, failedAt }).onConflictDoUpdate({ target: oauthCimdFailures.url, set: { failedAt } });
    throw new OAuthError("invalid_client", CIMD_FAILED);
  }
  const now = Date.now();
  const values = {
    id: clientId,
    kind: "metadata_document" as const,
    name: meta.client_name ?? null,
    redirectUris: JSON.stringify(meta.redirect_uris),
    tokenEndpointAuthMethod: "none" as const,
    secretHash: null,
    metadata: JSON.stringify(meta),
    createdAt: row?.createdAt ?? now,
    fetchedAt: now,
    registeredBy: null,
  };
  await db.insert(oauthClients).values(values).onConflictDoUpdate({ target: oauthClients.id, set: values });
  return toClient(values);
}

/** Fetches and checks a metadata document; throws (with the reason, for the log) when it cannot be used. */
async function fetchMetadataDocument(target: URL, url: string, fetcher: typeof fetch) {
  let res: Response;
  try {
    res = await fetcher(target.toString(), { headers: { accept: "application/json" }, redirect: "manual", signal: AbortSignal.timeout(CIMD_TIMEOUT_MS) });
  } catch {
    throw new Error("the document could not be fetched");
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`the document answered HTTP ${res.status}`);
  }
  const text = await readLimitedText(res, CIMD_MAX_BYTES);
  if (text === null) throw new Error(`the document is larger than ${CIMD_MAX_BYTES} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error("the document is not JSON");
  }
  const parsed = ClientMetadata.extend({ client_id: z.string() }).safeParse(json);
  if (!parsed.success) throw new Error(`the document is invalid: ${parsed.error.issues[0]?.path.join(".")} ${parsed.error.issues[0]?.message}`);
  if (parsed.data.client_id !== url) throw new Error("the document's client_id does not equal its URL");
  if (parsed.data.token_endpoint_auth_method !== "none") throw new Error("a metadata-document client must use token_endpoint_auth_method none");
  return parsed.data;
}

/**
 * Authenticates the client at the token and revocation endpoints: public clients name
 * themselves with client_id; confidential ones prove their secret (basic or post).
 */
export async function authenticateClient(env: Bindings, form: URLSearchParams, authorization: string | undefined): Promise<OAuthClient> {
  let clientId = form.get("client_id") ?? "";
  let secret: string | null = form.get("client_secret");
  let method: OAuthClient["authMethod"] = secret ? "client_secret_post" : "none";
  if (authorization?.startsWith("Basic ")) {
    let decoded = "";
    try {
      decoded = atob(authorization.slice(6).trim());
    } catch {
      throw new OAuthError("invalid_client", "Malformed Basic credentials.", 401);
    }
    const at = decoded.indexOf(":");
    try {
      clientId = decodeURIComponent(decoded.slice(0, at));
      secret = decodeURIComponent(decoded.slice(at + 1));
    } catch {
      throw new OAuthError("invalid_client", "Malformed Basic credentials.", 401);
    }
    method = "client_secret_basic";
  }
  const client = clientId ? await findClient(env, clientId) : null;
  if (!client) throw new OAuthError("invalid_client", "Unknown client.", 401);
  if (client.authMethod === "none") return client;
  if (!secret || !client.secretHash || !timingSafeEqual(await sha256Hex(secret), client.secretHash)) {
    throw new OAuthError("invalid_client", "Client authentication failed.", 401);
  }
  if (method === "none") throw new OAuthError("invalid_client", "Client authentication failed.", 401);
  return client;
}
