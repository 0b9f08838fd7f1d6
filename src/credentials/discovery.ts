/**
 * @module Finding an upstream's authorization server, as an MCP client does (MCP 2025-11-25,
 * Authorization): an unauthenticated request to the upstream answers 401 with
 * `WWW-Authenticate: Bearer resource_metadata="…"`; without that parameter the client tries the
 * protected resource metadata's well-known URIs (RFC 9728), path-specific first. The metadata
 * names the authorization server, whose own metadata is tried at RFC 8414 and OpenID Connect
 * well-known URIs in the spec's order. Every document is fetched through guarded-fetch.ts and
 * checked: the resource must cover the upstream URL, the issuer must be the one asked for,
 * endpoints must pass the SSRF guard, and PKCE S256 must be supported.
 */
import { z } from "zod";
import { type GuardOptions, guardedFetch, guardedUrl, UpstreamAuthError } from "./guarded-fetch";

/** What the gateway needs of an upstream's authorization server to connect a consumer. */
export interface AuthServerInfo {
  /** The RFC 8707 resource the tokens are for: the upstream URL. */
  resource: string;
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  registrationEndpoint: string | null;
  revocationEndpoint: string | null;
  /** The authorization server accepts Client ID Metadata Documents as client ids. */
  cimdSupported: boolean;
  tokenEndpointAuthMethods: string[];
  /** The scope to ask for: the 401's `scope`, else the resource's scopes_supported, else none. */
  scope: string | null;
}

/** The `resource_metadata` and `scope` parameters of a Bearer challenge, when present. */
export function parseBearerChallenge(header: string | null): { resourceMetadata: string | null; scope: string | null } {
  const out = { resourceMetadata: null as string | null, scope: null as string | null };
  if (!header || !/^\s*bearer\b/i.test(header)) return out;
  for (const m of header.matchAll(/([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    const value = (m[2] ?? m[3] ?? "").replace(/\\(.)/g, "$1");
    const key = m[1]!.toLowerCase();
    if (key === "resource_metadata") out.resourceMetadata = value;
    else if (key === "scope") out.scope = value;
  }
  return out;
}

/** RFC 9728 well-known URIs of a resource's metadata, path-specific first, then the root. */
export function protectedResourceMetadataUrls(resource: string): string[] {
  const url = new URL(resource);
  const path = url.pathname.replace(/\/+$/, "");
  const root = `${url.origin}/.well-known/oauth-protected-resource`;
  return path ? [`${root}${path}`, root] : [root];
}

/**
 * Authorization server metadata URIs in the order of MCP 2025-11-25: for an issuer with a path,
 * RFC 8414 path insertion, OpenID Connect path insertion, then OpenID Connect path appending; for
 * one without, RFC 8414 then OpenID Connect.
 */
export function authServerMetadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, "");
  if (!path) return [`${url.origin}/.well-known/oauth-authorization-server`, `${url.origin}/.well-known/openid-configuration`];
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}/.well-known/openid-configuration${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

/** Whether metadata for `declared` may speak for `upstream`: same origin, and a path prefix of it. */
export function resourceCovers(declared: string, upstream: string): boolean {
  let d: URL;
  let u: URL;
  try {
    d = new URL(declared);
    u = new URL(upstream);
  } catch {
    return false;
  }
  if (d.origin !== u.origin) return false;
  const dp = d.pathname.endsWith("/") ? d.pathname : `${d.pathname}/`;
  const up = u.pathname.endsWith("/") ? u.pathname : `${u.pathname}/`;
  return up.startsWith(dp);
}

const Str = z.string().max(2048);
const ResourceMetadata = z.looseObject({
  resource: Str,
  authorization_servers: z.array(Str).min(1).max(20),
  scopes_supported: z.array(z.string().max(256)).max(100).optional(),
});
const AuthServerMetadata = z.looseObject({
  issuer: Str,
  authorization_endpoint: Str,
  token_endpoint: Str,
  registration_endpoint: Str.optional(),
  revocation_endpoint: Str.optional(),
  code_challenge_methods_supported: z.array(z.string().max(64)).max(20).optional(),
  token_endpoint_auth_methods_supported: z.array(z.string().max(64)).max(20).optional(),
  client_id_metadata_document_supported: z.boolean().optional(),
});

const INITIALIZE = JSON.stringify({
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "mcpgate", version: "1" } },
});

/** The first of `urls` that answers 200 with a document `schema` accepts; null when none does. */
async function firstDocument<S extends z.ZodType>(urls: string[], what: string, schema: S, opts: GuardOptions): Promise<z.output<S> | null> {
  for (const url of urls) {
    const res = await guardedFetch(url, what, opts, { headers: { accept: "application/json" } });
    if (res.status !== 200) continue;
    const parsed = schema.safeParse(res.json);
    if (parsed.success) return parsed.data;
    throw new UpstreamAuthError(`The ${what} at ${url} is not valid metadata.`);
  }
  return null;
}

/** Discovers the authorization server of the upstream at `upstreamUrl` (see the module comment). */
export async function discoverAuthServer(upstreamUrl: string, opts: GuardOptions): Promise<AuthServerInfo> {
  const probe = await guardedFetch(upstreamUrl, "upstream", opts, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25" },
    body: INITIALIZE,
  });
  const challenge = probe.status === 401 ? parseBearerChallenge(probe.headers.get("www-authenticate")) : { resourceMetadata: null, scope: null };
  const prmUrls = challenge.resourceMetadata ? [challenge.resourceMetadata] : protectedResourceMetadataUrls(upstreamUrl);
  const prm = await firstDocument(prmUrls, "upstream's protected resource metadata", ResourceMetadata, opts);
  if (!prm) throw new UpstreamAuthError("The upstream publishes no OAuth protected resource metadata, so it cannot be connected with OAuth.");
  if (!resourceCovers(prm.resource, upstreamUrl)) {
    throw new UpstreamAuthError("The upstream's protected resource metadata names another resource than the upstream URL.");
  }
  const issuer = guardedUrl(prm.authorization_servers[0]!, "authorization server", opts).toString().replace(/\/$/, "");
  const meta = await firstDocument(authServerMetadataUrls(issuer), "authorization server metadata", AuthServerMetadata, opts);
  if (!meta) throw new UpstreamAuthError("The upstream's authorization server publishes no metadata.");
  if (meta.issuer.replace(/\/$/, "") !== issuer) throw new UpstreamAuthError("The authorization server's metadata names another issuer.");
  if (!meta.code_challenge_methods_supported?.includes("S256")) {
    throw new UpstreamAuthError("The authorization server does not declare PKCE S256 support, which MCP requires.");
  }
  const endpoint = (raw: string | undefined, what: string) => (raw ? guardedUrl(raw, what, opts).toString() : null);
  return {
    resource: upstreamUrl,
    issuer,
    authorizationEndpoint: endpoint(meta.authorization_endpoint, "authorization endpoint")!,
    tokenEndpoint: endpoint(meta.token_endpoint, "token endpoint")!,
    registrationEndpoint: endpoint(meta.registration_endpoint, "registration endpoint"),
    revocationEndpoint: endpoint(meta.revocation_endpoint, "revocation endpoint"),
    cimdSupported: meta.client_id_metadata_document_supported === true,
    tokenEndpointAuthMethods: meta.token_endpoint_auth_methods_supported ?? ["client_secret_basic"],
    scope: challenge.scope ?? (prm.scopes_supported?.length ? prm.scopes_supported.join(" ") : null),
  };
}
