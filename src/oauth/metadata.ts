/**
 * Discovery documents (pure): RFC 8414 authorization server metadata and RFC 9728 protected
 * resource metadata for each preset. The issuer is the gateway's base URL.
 */
export const SCOPES = ["mcp"] as const;
export const DEFAULT_SCOPE = "mcp";

export function authorizationServerMetadata(issuer: string) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    registration_endpoint: `${issuer}/oauth/register`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    jwks_uri: `${issuer}/oauth/jwks.json`,
    scopes_supported: [...SCOPES],
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    token_endpoint_auth_methods_supported: ["none", "client_secret_post", "client_secret_basic"],
    revocation_endpoint_auth_methods_supported: ["none", "client_secret_post", "client_secret_basic"],
    code_challenge_methods_supported: ["S256"],
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true,
  };
}

/** The canonical URL of a preset: the resource its access tokens are for. */
export function presetResource(issuer: string, handle: string, slug: string): string {
  return `${issuer}/mcp/${handle}/${slug}`;
}

export function resourceMetadataUrl(issuer: string, handle: string, slug: string): string {
  return `${issuer}/.well-known/oauth-protected-resource/mcp/${handle}/${slug}`;
}

export function protectedResourceMetadata(issuer: string, handle: string, slug: string) {
  return {
    resource: presetResource(issuer, handle, slug),
    authorization_servers: [issuer],
    scopes_supported: [...SCOPES],
    bearer_methods_supported: ["header"],
    resource_name: `mcpgate preset ${handle}/${slug}`,
  };
}

const PRESET_PATH = /^\/mcp\/([a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?)\/([a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?)\/?$/;

/** The preset a `resource` parameter names, if it is one of this gateway's preset URLs. */
export function parseResource(issuer: string, resource: string): { handle: string; slug: string } | null {
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    return null;
  }
  if (url.origin !== new URL(issuer).origin || url.search || url.hash) return null;
  const m = PRESET_PATH.exec(url.pathname);
  return m ? { handle: m[1]!, slug: m[2]! } : null;
}

/** `WWW-Authenticate` for a 401 from a preset's MCP endpoint (RFC 6750 + RFC 9728). */
export function bearerChallenge(issuer: string, handle: string, slug: string, error?: "invalid_token"): string {
  const parts = [`resource_metadata="${resourceMetadataUrl(issuer, handle, slug)}"`, `scope="${DEFAULT_SCOPE}"`];
  if (error) parts.push(`error="${error}"`);
  return `Bearer realm="mcpgate", ${parts.join(", ")}`;
}
