import { eq, sql } from "drizzle-orm";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { base64url, createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import { z } from "zod";
import { getDb } from "../db/client";
import { users } from "../db/schema";
import type { AppEnv } from "../edge/app-env";
import type { Bindings } from "../shared/bindings";
import { sha256Base64url } from "../shared/crypto";
import { publicUrl } from "../shared/public-url";
import { checkUpstreamUrl } from "../shared/url-guard";
import { signJwt, verifyJwt } from "./keys";
import { errorPage, pageResponse } from "./pages";
import { COOKIE_OPTIONS, completeSignIn, openRequest, openReturn } from "./session";

/**
 * @module Sign-in through an external OpenID Connect provider (authorization code + PKCE, client
 * secret at its token endpoint). The ID token is verified with jose against the provider's JWKS:
 * issuer, audience, nonce, expiry, and an asymmetric algorithm the provider advertises. The user
 * is the one whose email (or handle) equals the configured claim; an email claim counts only with
 * `email_verified: true`. The flow's state, nonce and PKCE verifier travel in a short signed
 * `__Host-` cookie.
 */

/** The flow cookie's name, without the `__Host-` prefix hono/cookie adds. */
const OIDC_COOKIE = "mcpgate_oidc";
const FLOW_TTL_S = 600;
const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

export function oidcEnabled(env: Bindings): boolean {
  return !!(env.OIDC_ISSUER && env.OIDC_CLIENT_ID && env.OIDC_CLIENT_SECRET);
}

const Discovery = z.looseObject({
  issuer: z.string(),
  authorization_endpoint: z.string(),
  token_endpoint: z.string(),
  jwks_uri: z.string(),
  id_token_signing_alg_values_supported: z.array(z.string()).optional(),
});

async function fetchJson(env: Bindings, url: string, init?: RequestInit): Promise<unknown> {
  const check = checkUpstreamUrl(url, { allowInsecure: env.ALLOW_INSECURE_UPSTREAMS === "true" });
  if (!check.ok) throw new Error(`identity provider URL ${check.reason}`);
  const res = await fetch(check.url.toString(), { ...init, redirect: "manual", signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`identity provider answered HTTP ${res.status}`);
  if (text.length > 256 * 1024) throw new Error("identity provider reply too large");
  return JSON.parse(text);
}

async function discover(env: Bindings) {
  const issuer = env.OIDC_ISSUER!.replace(/\/+$/, "");
  const doc = Discovery.parse(await fetchJson(env, `${issuer}/.well-known/openid-configuration`));
  if (doc.issuer.replace(/\/+$/, "") !== issuer) throw new Error("the provider's discovery document names another issuer");
  return doc;
}

/** GET /oauth/oidc/start?request=…: off to the provider, with state, nonce and PKCE kept in a signed cookie. */
export async function oidcStart(c: Context<AppEnv>): Promise<Response> {
  if (!oidcEnabled(c.env)) return pageResponse(c, errorPage("Not available", "No identity provider is configured."), 404);
  const issuer = publicUrl(c);
  const sealed = c.req.query("request") ?? "";
  if (!(await openRequest(c.env, issuer, sealed)) && !(await openReturn(c.env, issuer, sealed)))
    return pageResponse(c, errorPage("Request expired", "Start again from your application."), 400);
  let doc: z.output<typeof Discovery>;
  try {
    doc = await discover(c.env);
  } catch (e) {
    console.error("OIDC discovery failed", e);
    return pageResponse(c, errorPage("Sign-in unavailable", "The identity provider could not be reached."), 502);
  }
  const state = crypto.randomUUID();
  const nonce = crypto.randomUUID();
  const verifier = base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = await sha256Base64url(verifier);
  const flow = await signJwt(
    c.env,
    { state, nonce, verifier, request: sealed },
    { typ: "mcpgate-oidc+jwt", expiresInSeconds: FLOW_TTL_S, audience: `${issuer}/oauth#oidc`, issuer },
  );
  const target = new URL(doc.authorization_endpoint);
  target.search = new URLSearchParams({
    response_type: "code",
    client_id: c.env.OIDC_CLIENT_ID!,
    redirect_uri: `${issuer}/oauth/oidc/callback`,
    scope: "openid email profile",
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();
  setCookie(c, OIDC_COOKIE, flow, { ...COOKIE_OPTIONS, maxAge: FLOW_TTL_S });
  c.header("cache-control", "no-store");
  return c.redirect(target.toString(), 302);
}

/** GET /oauth/oidc/callback: code → ID token → user → session, then back to the authorization request. */
export async function oidcCallback(c: Context<AppEnv>): Promise<Response> {
  if (!oidcEnabled(c.env)) return pageResponse(c, errorPage("Not available", "No identity provider is configured."), 404);
  const issuer = publicUrl(c);
  const cookie = getCookie(c, OIDC_COOKIE, "host");
  const flow = cookie ? await verifyJwt(c.env, cookie, { typ: "mcpgate-oidc+jwt", audience: `${issuer}/oauth#oidc`, issuer }) : null;
  if (!flow || flow.state !== c.req.query("state"))
    return pageResponse(c, errorPage("Sign-in refused", "The sign-in state does not match; start again from your application."), 400);
  if (c.req.query("error")) return pageResponse(c, errorPage("Sign-in failed", `The identity provider said: ${c.req.query("error")}.`), 400);
  const code = c.req.query("code");
  if (!code) return pageResponse(c, errorPage("Sign-in failed", "The identity provider sent no code."), 400);

  let claims: Record<string, unknown>;
  try {
    const doc = await discover(c.env);
    const tokens = z.looseObject({ id_token: z.string() }).parse(
      await fetchJson(c.env, doc.token_endpoint, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code,
          redirect_uri: `${issuer}/oauth/oidc/callback`,
          client_id: c.env.OIDC_CLIENT_ID!,
          client_secret: c.env.OIDC_CLIENT_SECRET!,
          code_verifier: String(flow.verifier),
        }),
      }),
    );
    const keys = (await fetchJson(c.env, doc.jwks_uri)) as JSONWebKeySet;
    const algorithms = (doc.id_token_signing_alg_values_supported ?? ["RS256"]).filter((a) => ASYMMETRIC.includes(a));
    const { payload } = await jwtVerify(tokens.id_token, createLocalJWKSet(keys), {
      issuer: doc.issuer,
      audience: c.env.OIDC_CLIENT_ID!,
      algorithms,
      clockTolerance: 30,
    });
    if (payload.nonce !== flow.nonce) throw new Error("nonce mismatch");
    claims = payload as Record<string, unknown>;
  } catch (e) {
    console.error("OIDC sign-in failed", e);
    return pageResponse(c, errorPage("Sign-in failed", "The identity provider's answer could not be verified."), 400);
  }

  const claimName = c.env.OIDC_USER_CLAIM || "email";
  const value = claims[claimName];
  if (typeof value !== "string" || !value) return pageResponse(c, errorPage("Sign-in failed", `The ID token has no ${claimName} claim.`), 403);
  // An email binds an account only when the provider vouches for it: a missing or non-boolean
  // email_verified is refused like `false` (some providers let users set any unverified address).
  if (claimName === "email" && claims.email_verified !== true)
    return pageResponse(c, errorPage("Sign-in failed", "Your email address is not verified by the identity provider."), 403);
  const db = getDb(c.env.DB);
  const byHandle = c.env.OIDC_USER_FIELD === "handle";
  const user = await db
    .select({ id: users.id })
    .from(users)
    .where(byHandle ? eq(users.handle, value) : sql`lower(${users.email}) = ${value.toLowerCase()}`)
    .get();
  if (!user) return pageResponse(c, errorPage("No account", `There is no mcpgate user for ${value}.`), 403);
  // The flow is over whatever completeSignIn answers (the redirect, or a page if the request expired).
  deleteCookie(c, OIDC_COOKIE, COOKIE_OPTIONS);
  return completeSignIn(c, issuer, user.id, String(flow.request));
}
