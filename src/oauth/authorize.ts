import { and, eq } from "drizzle-orm";
import type { Context } from "hono";
import { resolveApiToken } from "../accounts/api-tokens";
import { getDb } from "../db/client";
import { oauthConsents, users } from "../db/schema";
import type { AppEnv } from "../edge/app-env";
import { decideAccess } from "../policy/access";
import { loadPresetConfig, type PresetConfig } from "../preset/config";
import { publicUrl } from "../shared/public-url";
import { findClient, type OAuthClient } from "./clients";
import { OAuthError } from "./errors";
import { PAGE_FORM_MAX_BYTES, readFormBody } from "./form-body";
import { createGrant, issueCode } from "./grants";
import { DEFAULT_SCOPE, parseResource, SCOPES } from "./metadata";
import { oidcEnabled } from "./oidc";
import { consentPage, errorPage, pageResponse, signInPage } from "./pages";
import {
  checkCsrf,
  checkSignInCsrf,
  completeSignIn,
  csrfToken,
  openRequest,
  openReturn,
  type PendingRequest,
  readSession,
  sealRequest,
  signInCsrfToken,
} from "./session";

/**
 * @module The authorization endpoint (authorization code + PKCE S256, RFC 8707 resource naming
 * one preset), the sign-in form, and the consent form. Until the client and its redirect URI are
 * known to be valid, errors are shown as a page; after that they go back to the client.
 */

function redirectWith(target: string, params: Record<string, string | null | undefined>): Response {
  const url = new URL(target);
  for (const [k, v] of Object.entries(params)) if (v != null) url.searchParams.set(k, v);
  return new Response(null, { status: 302, headers: { location: url.toString(), "cache-control": "no-store" } });
}

function errorRedirect(r: { redirectUri: string; state: string | null }, issuer: string, error: string, description: string): Response {
  return redirectWith(r.redirectUri, { error, error_description: description, state: r.state, iss: issuer });
}

interface ResolvedRequest {
  pending: PendingRequest;
  client: OAuthClient;
  preset: PresetConfig;
}

/** Validates the authorization request's parameters; returns a page or redirect on failure. */
async function validate(c: Context<AppEnv>, q: URLSearchParams, issuer: string): Promise<ResolvedRequest | Response> {
  const clientId = q.get("client_id") ?? "";
  let client: OAuthClient | null;
  try {
    client = await findClient(c.env, clientId);
  } catch (e) {
    if (e instanceof OAuthError) return pageResponse(c, errorPage("Unknown application", e.description), 400);
    throw e;
  }
  if (!client) return pageResponse(c, errorPage("Unknown application", "The client_id is not registered with this gateway."), 400);
  const requested = q.get("redirect_uri");
  const redirectUri = requested ?? (client.redirectUris.length === 1 ? client.redirectUris[0]! : null);
  if (!redirectUri || !client.redirectUris.includes(redirectUri)) {
    return pageResponse(c, errorPage("Invalid redirect", "The redirect_uri does not exactly match one the application registered."), 400);
  }
  const state = q.get("state");
  const back = { redirectUri, state };
  if (q.get("response_type") !== "code") return errorRedirect(back, issuer, "unsupported_response_type", "Only response_type=code is supported.");
  const challenge = q.get("code_challenge");
  if (!challenge || q.get("code_challenge_method") !== "S256" || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
    return errorRedirect(back, issuer, "invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256.");
  }
  const scopes = (q.get("scope") ?? DEFAULT_SCOPE).split(" ").filter(Boolean);
  if (scopes.some((s) => !(SCOPES as readonly string[]).includes(s)))
    return errorRedirect(back, issuer, "invalid_scope", `Supported scopes: ${SCOPES.join(" ")}.`);
  const resource = q.get("resource");
  const target = resource ? parseResource(issuer, resource) : null;
  if (!resource || !target) return errorRedirect(back, issuer, "invalid_target", "resource must name one of this gateway's presets.");
  const preset = await loadPresetConfig(c.env, target.handle, target.slug);
  if (preset?.status !== "active") return errorRedirect(back, issuer, "invalid_target", "No such preset.");
  const canonical = `${issuer}/mcp/${target.handle}/${target.slug}`;
  return {
    pending: { clientId: client.id, redirectUri, state, codeChallenge: challenge, scope: scopes.join(" ") || DEFAULT_SCOPE, resource: canonical },
    client,
    preset,
  };
}

/** Everything after validation: sign in, access check, remembered consent or the consent page. */
async function proceed(c: Context<AppEnv>, issuer: string, r: ResolvedRequest, sealed: string, extraHeaders: Record<string, string> = {}): Promise<Response> {
  const session = await readSession(c, issuer);
  const presetLabel = `${r.preset.handle}/${r.preset.slug}`;
  if (!session) {
    const oidc = oidcEnabled(c.env)
      ? { name: c.env.OIDC_NAME || "your identity provider", url: `/oauth/oidc/start?request=${encodeURIComponent(sealed)}` }
      : undefined;
    const csrf = await signInCsrfToken(c, issuer, sealed);
    return pageResponse(c, signInPage({ request: sealed, csrf, clientName: r.client.name, presetLabel, oidc }), 200, extraHeaders);
  }
  if (decideAccess(r.preset, session.userId) !== "allow") {
    return errorRedirect(r.pending, issuer, "access_denied", `Your account has no access to the preset ${presetLabel}.`);
  }
  const db = getDb(c.env.DB);
  const consent = await db
    .select()
    .from(oauthConsents)
    .where(and(eq(oauthConsents.userId, session.userId), eq(oauthConsents.clientId, r.client.id), eq(oauthConsents.presetId, r.preset.id)))
    .get();
  if (consent && r.pending.scope.split(" ").every((s) => consent.scope.split(" ").includes(s))) {
    return approve(c, issuer, r, session.userId);
  }
  const user = await db.select({ handle: users.handle }).from(users).where(eq(users.id, session.userId)).get();
  return pageResponse(
    c,
    consentPage({
      request: sealed,
      csrf: await csrfToken(c.env, issuer, session, sealed),
      userHandle: user?.handle ?? session.userId,
      clientName: r.client.name,
      clientId: r.client.id,
      redirectUri: r.pending.redirectUri,
      presetLabel,
      presetName: r.preset.name,
      scope: r.pending.scope,
    }),
    200,
    extraHeaders,
  );
}

async function approve(c: Context<AppEnv>, issuer: string, r: ResolvedRequest, userId: string): Promise<Response> {
  const grant = await createGrant(c.env, {
    userId,
    clientId: r.client.id,
    presetId: r.preset.id,
    ownerId: r.preset.ownerId,
    resource: r.pending.resource,
    scope: r.pending.scope,
  });
  const code = await issueCode(c.env, grant.id, r.pending.redirectUri, r.pending.codeChallenge);
  return redirectWith(r.pending.redirectUri, { code, state: r.pending.state, iss: issuer });
}

/** Rebuilds and re-validates a pending request (the client or preset may have changed since). */
async function resume(c: Context<AppEnv>, issuer: string, sealed: string): Promise<ResolvedRequest | Response> {
  const pending = await openRequest(c.env, issuer, sealed);
  if (!pending)
    return pageResponse(c, errorPage("Request expired", "This sign-in took too long or was tampered with. Start again from your application."), 400);
  const q = new URLSearchParams({
    client_id: pending.clientId,
    redirect_uri: pending.redirectUri,
    response_type: "code",
    code_challenge: pending.codeChallenge,
    code_challenge_method: "S256",
    scope: pending.scope,
    resource: pending.resource,
  });
  if (pending.state !== null) q.set("state", pending.state);
  return validate(c, q, issuer);
}

export async function authorizeGet(c: Context<AppEnv>): Promise<Response> {
  const issuer = publicUrl(c);
  const r = await validate(c, new URL(c.req.url).searchParams, issuer);
  if (r instanceof Response) return r;
  return proceed(c, issuer, r, await sealRequest(c.env, issuer, r.pending));
}

/** The posted form of a page, or the error page that answers it (413 over PAGE_FORM_MAX_BYTES). */
async function pageForm(c: Context<AppEnv>): Promise<URLSearchParams | Response> {
  const body = await readFormBody(c.req.raw, PAGE_FORM_MAX_BYTES);
  if (body.ok) return body.form;
  if (body.problem === "too_large") return pageResponse(c, errorPage("Request too large", `The form is larger than ${PAGE_FORM_MAX_BYTES} bytes.`), 413);
  return pageResponse(c, errorPage("Bad request", "The form must be sent as application/x-www-form-urlencoded."), 400);
}

/**
 * The sign-in page for a gateway page (the connect page) rather than an authorization request:
 * `sealed` is a sealReturn token, and signing in goes back to the page it names.
 */
export async function signInForReturn(c: Context<AppEnv>, issuer: string, sealed: string, error?: string): Promise<Response> {
  const next = await openReturn(c.env, issuer, sealed);
  const label = next ? next.replace(/^\/connect\//, "").replace(/\?.*$/, "") : "";
  const oidc = oidcEnabled(c.env)
    ? { name: c.env.OIDC_NAME || "your identity provider", url: `/oauth/oidc/start?request=${encodeURIComponent(sealed)}` }
    : undefined;
  const csrf = await signInCsrfToken(c, issuer, sealed);
  return pageResponse(c, signInPage({ request: sealed, csrf, clientName: "The connect page", presetLabel: label, error, oidc }), error ? 401 : 200);
}

/** Sign-in with an API token (for self-hosters without an identity provider). */
export async function loginPost(c: Context<AppEnv>): Promise<Response> {
  const issuer = publicUrl(c);
  const form = await pageForm(c);
  if (form instanceof Response) return form;
  const sealed = String(form.get("request") ?? "");
  if (!(await checkSignInCsrf(c, issuer, sealed, String(form.get("csrf") ?? "")))) {
    return pageResponse(
      c,
      errorPage("Request refused", "This sign-in form was not submitted from this gateway's own page in this browser. Start again from your application."),
      403,
    );
  }
  const back = await openReturn(c.env, issuer, sealed);
  const r = back ? null : await resume(c, issuer, sealed);
  if (r instanceof Response) return r;
  const token = String(form.get("token") ?? "").trim();
  const userId = token ? await resolveApiToken(c.env.DB, token, (p) => c.executionCtx.waitUntil(p)) : null;
  if (!userId) {
    if (!r) return signInForReturn(c, issuer, sealed, "That API token is not valid.");
    return pageResponse(
      c,
      signInPage({
        request: sealed,
        csrf: await signInCsrfToken(c, issuer, sealed),
        clientName: r.client.name,
        presetLabel: `${r.preset.handle}/${r.preset.slug}`,
        error: "That API token is not valid.",
      }),
      401,
    );
  }
  return completeSignIn(c, issuer, userId, sealed);
}

/** The consent form's answer. */
export async function consentPost(c: Context<AppEnv>): Promise<Response> {
  const issuer = publicUrl(c);
  const form = await pageForm(c);
  if (form instanceof Response) return form;
  const sealed = String(form.get("request") ?? "");
  const session = await readSession(c, issuer);
  if (!session || !(await checkCsrf(c.env, issuer, session, sealed, String(form.get("csrf") ?? "")))) {
    return pageResponse(
      c,
      errorPage("Request refused", "This form was not submitted from your own consent page, or your session ended. Start again from your application."),
      403,
    );
  }
  const r = await resume(c, issuer, sealed);
  if (r instanceof Response) return r;
  if (form.get("decision") !== "approve") return errorRedirect(r.pending, issuer, "access_denied", "The user denied access.");
  if (decideAccess(r.preset, session.userId) !== "allow") {
    return errorRedirect(r.pending, issuer, "access_denied", "Your account has no access to this preset.");
  }
  await getDb(c.env.DB)
    .insert(oauthConsents)
    .values({ userId: session.userId, clientId: r.client.id, presetId: r.preset.id, scope: r.pending.scope, createdAt: Date.now() })
    .onConflictDoUpdate({ target: [oauthConsents.userId, oauthConsents.clientId, oauthConsents.presetId], set: { scope: r.pending.scope } });
  return approve(c, issuer, r, session.userId);
}
