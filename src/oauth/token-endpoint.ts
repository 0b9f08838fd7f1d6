import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { decodeJwt } from "jose";
import { getDb } from "../db/client";
import { oauthGrants, presets, users } from "../db/schema";
import type { AppEnv } from "../edge/app-env";
import { decideAccess } from "../policy/access";
import { loadPresetConfig } from "../preset/config";
import { sha256Base64url } from "../shared/crypto";
import { publicUrl } from "../shared/public-url";
import { authenticateClient } from "./clients";
import { OAuthError } from "./errors";
import { readFormBody, TOKEN_FORM_MAX_BYTES } from "./form-body";
import { ACCESS_TOKEN_TYP, findRefreshToken, type Grant, grantOfRefreshToken, issueTokens, redeemCode, revokeGrant, rotateRefreshToken } from "./grants";
import { verifyJwt } from "./keys";

/**
 * @module The token endpoint (authorization code with PKCE, rotating refresh tokens) and RFC 7009
 * revocation. An OAuthError thrown here is answered by the OAuth sub-app's onError (routes.ts).
 */

async function readForm(c: Context<AppEnv>): Promise<URLSearchParams> {
  const body = await readFormBody(c.req.raw, TOKEN_FORM_MAX_BYTES);
  if (body.ok) return body.form;
  if (body.problem === "too_large") throw new OAuthError("invalid_request", `The request body is larger than ${TOKEN_FORM_MAX_BYTES} bytes.`, 413);
  throw new OAuthError("invalid_request", "Send the parameters as application/x-www-form-urlencoded.");
}

function json(body: unknown): Response {
  return new Response(JSON.stringify(body), { headers: { "content-type": "application/json", "cache-control": "no-store", pragma: "no-cache" } });
}

/** Whether the grant's user may still use its preset (membership can be revoked after consent). */
async function stillAllowed(c: Context<AppEnv>, grant: Grant): Promise<boolean> {
  const preset = await getDb(c.env.DB)
    .select({ slug: presets.slug, handle: users.handle })
    .from(presets)
    .innerJoin(users, eq(users.id, presets.ownerId))
    .where(eq(presets.id, grant.presetId))
    .get();
  if (!preset) return false;
  const config = await loadPresetConfig(c.env, preset.handle, preset.slug);
  return !!config && config.id === grant.presetId && config.status === "active" && decideAccess(config, grant.userId) === "allow";
}

/** POST /oauth/token: authorization_code (PKCE) and refresh_token (rotating) grants. */
export async function tokenPost(c: Context<AppEnv>): Promise<Response> {
  const form = await readForm(c);
  const client = await authenticateClient(c.env, form, c.req.header("authorization"));
  const issuer = publicUrl(c);
  const grantType = form.get("grant_type");
  if (grantType === "authorization_code") {
    const code = form.get("code");
    const verifier = form.get("code_verifier");
    if (!code || !verifier) throw new OAuthError("invalid_request", "code and code_verifier are required.");
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) throw new OAuthError("invalid_grant", "The code_verifier is malformed.");
    const redeemed = await redeemCode(c.env, code);
    if ("problem" in redeemed) throw new OAuthError("invalid_grant", redeemed.problem);
    const { row, grant } = redeemed;
    if (grant.clientId !== client.id) throw new OAuthError("invalid_grant", "The code was issued to another client.");
    if (form.get("redirect_uri") !== row.redirectUri) throw new OAuthError("invalid_grant", "redirect_uri does not match the authorization request.");
    if ((await sha256Base64url(verifier)) !== row.codeChallenge) throw new OAuthError("invalid_grant", "The code_verifier does not match the code_challenge.");
    const resource = form.get("resource");
    if (resource !== null && resource.replace(/\/$/, "") !== grant.resource)
      throw new OAuthError("invalid_target", "resource does not match the authorization request.");
    return json(await issueTokens(c.env, issuer, grant));
  }
  if (grantType === "refresh_token") {
    const token = form.get("refresh_token");
    if (!token) throw new OAuthError("invalid_request", "refresh_token is required.");
    const found = await findRefreshToken(c.env, token);
    if ("problem" in found) throw new OAuthError("invalid_grant", found.problem);
    const { grant } = found;
    if (grant.clientId !== client.id) throw new OAuthError("invalid_grant", "The refresh token was issued to another client.");
    const resource = form.get("resource");
    if (resource !== null && resource.replace(/\/$/, "") !== grant.resource) throw new OAuthError("invalid_target", "resource does not match the grant.");
    const scope = form.get("scope");
    const requested = scope ? scope.split(" ") : [];
    if (requested.some((s) => !grant.scope.split(" ").includes(s))) throw new OAuthError("invalid_scope", "A refresh cannot widen the scope.");
    if (!(await stillAllowed(c, grant))) {
      await revokeGrant(c.env, grant, "access_lost", null, (p) => c.executionCtx.waitUntil(p));
      throw new OAuthError("invalid_grant", "The user no longer has access to this preset.");
    }
    const rotated = await rotateRefreshToken(c.env, issuer, found);
    if ("problem" in rotated) throw new OAuthError("invalid_grant", rotated.problem);
    return json(rotated);
  }
  throw new OAuthError("unsupported_grant_type", "Supported grant types: authorization_code, refresh_token.");
}

/** POST /oauth/revoke (RFC 7009): a refresh or access token; revokes its whole grant. */
export async function revokePost(c: Context<AppEnv>): Promise<Response> {
  const form = await readForm(c);
  const client = await authenticateClient(c.env, form, c.req.header("authorization"));
  const token = form.get("token");
  if (!token) throw new OAuthError("invalid_request", "token is required.");
  let grant = token.startsWith("mcpr_") ? await grantOfRefreshToken(c.env, token) : null;
  if (!grant && token.split(".").length === 3) {
    const claims = await verifyJwt(c.env, token, { typ: ACCESS_TOKEN_TYP, issuer: publicUrl(c), audience: decodeAudience(token) });
    const gid = typeof claims?.gid === "string" ? claims.gid : null;
    grant = gid ? ((await getDb(c.env.DB).select().from(oauthGrants).where(eq(oauthGrants.id, gid)).get()) ?? null) : null;
  }
  // RFC 7009 §2.2: unknown or foreign tokens are not an error worth revealing.
  if (grant && grant.clientId === client.id) await revokeGrant(c.env, grant, "revoked_by_client", grant.userId, (p) => c.executionCtx.waitUntil(p));
  return new Response(null, { status: 200, headers: { "cache-control": "no-store" } });
}

/**
 * The (unverified) audience of a JWT, so verification can then require exactly it. Never throws:
 * garbage gives "", which no token verifies against, and revocation answers 200 (RFC 7009).
 */
function decodeAudience(token: string): string {
  try {
    const { aud } = decodeJwt(token);
    return typeof aud === "string" ? aud : "";
  } catch {
    return "";
  }
}
