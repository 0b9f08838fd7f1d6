import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "../edge/app-env";
import type { Bindings } from "../shared/bindings";
import { sha256Hex } from "../shared/crypto";
import { randomToken } from "../shared/ids";
import { signJwt, verifyJwt } from "./keys";
import { errorPage, pageResponse } from "./pages";

/**
 * @module Browser-side state of the authorization flow, all as short signed JWTs (no storage):
 * - the sign-in session cookie (`__Host-`, Secure, HttpOnly, SameSite=Lax);
 * - the pending authorization request, carried through sign-in and consent forms;
 * - the consent form's CSRF token, bound to the session and to the request;
 * - the sign-in form's CSRF token, bound to a random pre-sign-in cookie (`__Host-`) and to the
 *   request, so a cross-site page cannot sign a victim's browser in as its author (login CSRF).
 * Each kind has its own `typ` and audience, so one can never be replayed as another.
 */

/**
 * The attributes of the flow's cookies, for hono/cookie. `prefix: "host"` names a cookie
 * `__Host-<name>` and forces Secure, Path=/ and no Domain (the browser then refuses it from any
 * other site or path); path and secure are spelled out for the reader.
 */
export const COOKIE_OPTIONS = { prefix: "host", path: "/", secure: true, httpOnly: true, sameSite: "Lax" } as const;
/** The session cookie's name, without the `__Host-` prefix hono adds. */
const SESSION_COOKIE = "mcpgate_session";
/** The pre-sign-in cookie's name: a random value the sign-in form's CSRF token is bound to. */
const SIGN_IN_COOKIE = "mcpgate_signin";
const SESSION_TTL_S = 12 * 3600;
const REQUEST_TTL_S = 15 * 60;

const aud = (issuer: string, what: string) => `${issuer}/oauth#${what}`;

export interface PendingRequest {
  clientId: string;
  redirectUri: string;
  state: string | null;
  codeChallenge: string;
  scope: string;
  resource: string;
}

export async function sealRequest(env: Bindings, issuer: string, r: PendingRequest): Promise<string> {
  return signJwt(env, { req: r }, { typ: "mcpgate-authz+jwt", expiresInSeconds: REQUEST_TTL_S, audience: aud(issuer, "request"), issuer });
}

export async function openRequest(env: Bindings, issuer: string, token: string): Promise<PendingRequest | null> {
  const payload = await verifyJwt(env, token, { typ: "mcpgate-authz+jwt", audience: aud(issuer, "request"), issuer });
  return (payload?.req as PendingRequest | undefined) ?? null;
}

/** Paths a signed-in browser may be sent back to after a sign-in that did not start at /oauth/authorize: the connect page, the web console. */
const RETURN_PATH = /^(\/connect\/[a-z0-9-]{1,50}\/[a-z0-9-]{1,50}\/[a-z0-9_-]{1,32}(\?step=oauth)?|\/console\/signin\/oidc)$/;

/** A sign-in that returns to a gateway page (the connect page, the web console) instead of an authorization request. */
export async function sealReturn(env: Bindings, issuer: string, path: string): Promise<string> {
  if (!RETURN_PATH.test(path)) throw new Error(`not a path sign-in may return to: ${path}`);
  return signJwt(env, { next: path }, { typ: "mcpgate-return+jwt", expiresInSeconds: REQUEST_TTL_S, audience: aud(issuer, "return"), issuer });
}

/** The path a sealed return names, or null (expired, forged, an authorization request, or not a page sign-in may return to). */
export async function openReturn(env: Bindings, issuer: string, token: string): Promise<string | null> {
  const payload = await verifyJwt(env, token, { typ: "mcpgate-return+jwt", audience: aud(issuer, "return"), issuer });
  return typeof payload?.next === "string" && RETURN_PATH.test(payload.next) ? payload.next : null;
}

export interface BrowserSession {
  userId: string;
  sid: string;
}

function sessionToken(env: Bindings, issuer: string, userId: string): Promise<string> {
  return signJwt(
    env,
    { sid: crypto.randomUUID() },
    { typ: "mcpgate-session+jwt", expiresInSeconds: SESSION_TTL_S, audience: aud(issuer, "session"), issuer, subject: userId },
  );
}

export async function readSession(c: Context<AppEnv>, issuer: string): Promise<BrowserSession | null> {
  const token = getCookie(c, SESSION_COOKIE, "host");
  if (!token) return null;
  const payload = await verifyJwt(c.env, token, { typ: "mcpgate-session+jwt", audience: aud(issuer, "session"), issuer });
  return payload?.sub && typeof payload.sid === "string" ? { userId: payload.sub, sid: payload.sid } : null;
}

export async function csrfToken(env: Bindings, issuer: string, session: BrowserSession, request: string): Promise<string> {
  return signJwt(
    env,
    { sid: session.sid, rh: await sha256Hex(request) },
    { typ: "mcpgate-csrf+jwt", expiresInSeconds: REQUEST_TTL_S, audience: aud(issuer, "csrf"), issuer, subject: session.userId },
  );
}

export async function checkCsrf(env: Bindings, issuer: string, session: BrowserSession, request: string, token: string): Promise<boolean> {
  const payload = await verifyJwt(env, token, { typ: "mcpgate-csrf+jwt", audience: aud(issuer, "csrf"), issuer });
  return !!payload && payload.sub === session.userId && payload.sid === session.sid && payload.rh === (await sha256Hex(request));
}

/**
 * The sign-in form's CSRF token. The pre-sign-in cookie is reused when the browser has one (so a
 * re-shown form sets no cookie), else a new random one is set on the reply being built.
 */
export async function signInCsrfToken(c: Context<AppEnv>, issuer: string, request: string): Promise<string> {
  let nonce = getCookie(c, SIGN_IN_COOKIE, "host");
  if (!nonce || !/^[A-Za-z0-9_-]{43}$/.test(nonce)) {
    nonce = randomToken(43);
    setCookie(c, SIGN_IN_COOKIE, nonce, { ...COOKIE_OPTIONS, maxAge: REQUEST_TTL_S });
  }
  return signJwt(
    c.env,
    { pre: await sha256Hex(nonce), rh: await sha256Hex(request) },
    { typ: "mcpgate-signin-csrf+jwt", expiresInSeconds: REQUEST_TTL_S, audience: aud(issuer, "signin-csrf"), issuer },
  );
}

/** Whether a sign-in POST carries the token of a form this browser was shown for this request. */
export async function checkSignInCsrf(c: Context<AppEnv>, issuer: string, request: string, token: string): Promise<boolean> {
  const nonce = getCookie(c, SIGN_IN_COOKIE, "host");
  if (!nonce || !token) return false;
  const payload = await verifyJwt(c.env, token, { typ: "mcpgate-signin-csrf+jwt", audience: aud(issuer, "signin-csrf"), issuer });
  return !!payload && payload.pre === (await sha256Hex(nonce)) && payload.rh === (await sha256Hex(request));
}

/**
 * After any sign-in method: set the session cookie and continue with the same request. The reply
 * is built by the context, so a cookie the caller set or cleared on it before is kept.
 */
export async function completeSignIn(c: Context<AppEnv>, issuer: string, userId: string, sealed: string): Promise<Response> {
  const pending = await openRequest(c.env, issuer, sealed);
  const back = pending ? null : await openReturn(c.env, issuer, sealed);
  if (back) {
    setCookie(c, SESSION_COOKIE, await sessionToken(c.env, issuer, userId), { ...COOKIE_OPTIONS, maxAge: SESSION_TTL_S });
    c.header("cache-control", "no-store");
    return c.redirect(back, 303);
  }
  if (!pending) return pageResponse(c, errorPage("Request expired", "Start again from your application."), 400);
  const q = new URLSearchParams({
    response_type: "code",
    client_id: pending.clientId,
    redirect_uri: pending.redirectUri,
    code_challenge: pending.codeChallenge,
    code_challenge_method: "S256",
    scope: pending.scope,
    resource: pending.resource,
  });
  if (pending.state !== null) q.set("state", pending.state);
  setCookie(c, SESSION_COOKIE, await sessionToken(c.env, issuer, userId), { ...COOKIE_OPTIONS, maxAge: SESSION_TTL_S });
  c.header("cache-control", "no-store");
  return c.redirect(`/oauth/authorize?${q}`, 303);
}
