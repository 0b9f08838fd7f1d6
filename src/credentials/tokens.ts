/**
 * @module The upstream authorization server's token endpoint (authorization code with PKCE,
 * refresh) and its revocation endpoint (RFC 7009), as an OAuth 2.1 client. Every request names the
 * upstream as its RFC 8707 `resource`. Replies are capped and checked; a token larger than
 * TOKEN_MAX_CHARS is refused rather than stored.
 */
import { z } from "zod";
import { type GuardOptions, guardedFetch, UpstreamAuthError } from "./guarded-fetch";
import type { UpstreamClient } from "./registration";

/** Largest access or refresh token stored, in characters. */
export const TOKEN_MAX_CHARS = 8192;
/** Longest lifetime believed of an access token (a year); longer ones are cut to it. */
const MAX_LIFETIME_S = 365 * 24 * 3600;

/** Tokens as the gateway keeps them for one consumer and one upstream. */
export interface TokenSet {
  accessToken: string;
  refreshToken: string | null;
  /** ms epoch, or null when the authorization server gave no lifetime. */
  expiresAt: number | null;
  scope: string | null;
}

const TokenReply = z.looseObject({
  access_token: z.string().min(1).max(TOKEN_MAX_CHARS),
  token_type: z.string().regex(/^bearer$/i),
  expires_in: z.number().nonnegative().optional(),
  refresh_token: z.string().min(1).max(TOKEN_MAX_CHARS).optional(),
  scope: z.string().max(2048).optional(),
});
const ErrorReply = z.looseObject({ error: z.string().max(200), error_description: z.string().max(1000).optional() });

function clientAuth(client: UpstreamClient, form: URLSearchParams): Record<string, string> {
  if (client.authMethod === "client_secret_basic" && client.clientSecret) {
    const enc = (s: string) => encodeURIComponent(s);
    return { authorization: `Basic ${btoa(`${enc(client.clientId)}:${enc(client.clientSecret)}`)}` };
  }
  form.set("client_id", client.clientId);
  if (client.authMethod === "client_secret_post" && client.clientSecret) form.set("client_secret", client.clientSecret);
  return {};
}

/** One token request; `previous` keeps a refresh token the reply does not rotate. */
export async function requestTokens(
  client: UpstreamClient,
  params: Record<string, string>,
  opts: GuardOptions & { now?: number },
  previous: TokenSet | null = null,
): Promise<TokenSet> {
  const form = new URLSearchParams(params);
  const auth = clientAuth(client, form);
  const res = await guardedFetch(client.tokenEndpoint, "token endpoint", opts, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json", ...auth },
    body: form.toString(),
  });
  if (res.status !== 200) {
    const err = ErrorReply.safeParse(res.json);
    const code = err.success ? err.data.error : null;
    throw new UpstreamAuthError(`The upstream's token endpoint refused the request (${code ?? `HTTP ${res.status}`}).`, code);
  }
  const parsed = TokenReply.safeParse(res.json);
  if (!parsed.success) throw new UpstreamAuthError("The upstream's token endpoint answered something that is not a bearer token reply.");
  const t = parsed.data;
  const now = opts.now ?? Date.now();
  return {
    accessToken: t.access_token,
    refreshToken: t.refresh_token ?? previous?.refreshToken ?? null,
    expiresAt: t.expires_in !== undefined ? now + Math.min(t.expires_in, MAX_LIFETIME_S) * 1000 : null,
    scope: t.scope ?? previous?.scope ?? null,
  };
}

/** Best-effort RFC 7009 revocation; failures are logged, never thrown. */
export async function revokeToken(client: UpstreamClient, token: string, hint: "access_token" | "refresh_token", opts: GuardOptions): Promise<void> {
  if (!client.revocationEndpoint) return;
  const form = new URLSearchParams({ token, token_type_hint: hint });
  const auth = clientAuth(client, form);
  try {
    await guardedFetch(client.revocationEndpoint, "revocation endpoint", opts, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...auth },
      body: form.toString(),
    });
  } catch (e) {
    console.warn("upstream token revocation failed", e instanceof Error ? e.message : e);
  }
}
