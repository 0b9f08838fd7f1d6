import { SELF } from "cloudflare:test";
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { ORIGIN } from "./helpers";

/** What a browser does in the authorization flow, done with fetches through the worker. */
export interface Page {
  status: number;
  headers: Headers;
  html: string;
  location: string | null;
}

export async function browse(url: string, init: RequestInit & { cookie?: string } = {}): Promise<Page> {
  const headers = new Headers(init.headers);
  if (init.cookie) headers.set("cookie", init.cookie);
  const target = url.startsWith("/") ? `${ORIGIN}${url}` : url;
  const res = await SELF.fetch(target, { ...init, headers, redirect: "manual" });
  return { status: res.status, headers: res.headers, html: await res.text(), location: res.headers.get("location") };
}

/** The value of a hidden form field on a page. */
export function field(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!m) throw new Error(`no field ${name} on the page: ${html.slice(0, 400)}`);
  return m[1]!
    .replace(/&amp;/g, "&")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">");
}

/** `name=value` of the cookie a response set, for sending it back. */
export function cookieOf(page: Page): string {
  const raw = page.headers.get("set-cookie");
  if (!raw) throw new Error("no cookie set");
  return raw.split(";")[0]!;
}

/** A form post as the gateway's own pages send it: from the gateway's origin, as a browser says. */
export function form(values: Record<string, string>): RequestInit {
  return { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN }, body: new URLSearchParams(values).toString() };
}

/** The sign-in form of `signIn` filled with `apiToken`, with the pre-sign-in cookie the page set. */
export function loginForm(signIn: Page, apiToken: string): RequestInit & { cookie: string } {
  return { ...form({ request: field(signIn.html, "request"), csrf: field(signIn.html, "csrf"), token: apiToken }), cookie: cookieOf(signIn) };
}

/** Signs in with an API token on the sign-in page the authorize URL shows; returns the session cookie and the next page. */
export async function signInWithToken(authorizeUrl: string, apiToken: string): Promise<{ cookie: string; next: Page }> {
  const signIn = await browse(authorizeUrl);
  if (signIn.status !== 200) throw new Error(`authorize answered ${signIn.status} ${signIn.location ?? signIn.html.slice(0, 300)}`);
  const posted = await browse("/oauth/login", loginForm(signIn, apiToken));
  if (posted.status !== 303) throw new Error(`login answered ${posted.status} ${posted.html.slice(0, 300)}`);
  const cookie = cookieOf(posted);
  return { cookie, next: await browse(posted.location!, { cookie }) };
}

/** Approves (or denies) on a consent page; returns the redirect back to the client. */
export async function decide(consent: Page, cookie: string, decision: "approve" | "deny" = "approve"): Promise<URL> {
  const res = await browse("/oauth/consent", { ...form({ request: field(consent.html, "request"), csrf: field(consent.html, "csrf"), decision }), cookie });
  if (res.status !== 302 || !res.location) throw new Error(`consent answered ${res.status} ${res.html.slice(0, 300)}`);
  return new URL(res.location);
}

/** The whole user side: sign in with an API token, approve if asked, return the redirect (with code). */
export async function authorizeInBrowser(authorizeUrl: string, apiToken: string): Promise<URL> {
  const { cookie, next } = await signInWithToken(authorizeUrl, apiToken);
  if (next.status === 302 && next.location) return new URL(next.location);
  return decide(next, cookie);
}

/** An in-memory OAuthClientProvider, as an MCP client application keeps one. */
export class TestOAuthProvider implements OAuthClientProvider {
  client?: OAuthClientInformationMixed;
  savedTokens?: OAuthTokens;
  verifier?: string;
  /** Where the SDK sent "the user". */
  authorizationUrl?: URL;

  constructor(
    readonly redirectUrl = "http://localhost:7777/callback",
    readonly clientMetadataUrl?: string,
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "Test MCP Client",
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.savedTokens;
  }
  saveTokens(tokens: OAuthTokens) {
    this.savedTokens = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error("no code verifier saved");
    return this.verifier;
  }
}

/** S256 PKCE pair for hand-made authorization requests. */
export async function pkce(): Promise<{ verifier: string; challenge: string }> {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const b64u = (b: Uint8Array) =>
    btoa(String.fromCharCode(...b))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
  const verifier = b64u(bytes);
  const challenge = b64u(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  return { verifier, challenge };
}

/**
 * A client address no other registration uses (198.18.0.0/15, the benchmarking range), so the
 * per-address registration limit never trips the tests that merely need a client.
 */
export function freshIp(): string {
  const n = crypto.getRandomValues(new Uint32Array(1))[0]!;
  return `198.${18 + ((n >>> 16) & 1)}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Registers a public client by RFC 7591 (from a fresh client address unless `ip` is given). */
export async function registerClient(redirectUri = "http://localhost:7777/callback", extra: Record<string, unknown> = {}, ip = freshIp()) {
  const res = await SELF.fetch(`${ORIGIN}/oauth/register`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": ip },
    body: JSON.stringify({ client_name: "Hand-made client", redirect_uris: [redirectUri], ...extra }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

export function authorizeUrl(params: Record<string, string>): string {
  return `/oauth/authorize?${new URLSearchParams({ response_type: "code", code_challenge_method: "S256", scope: "mcp", ...params })}`;
}

export async function tokenRequest(params: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await SELF.fetch(`${ORIGIN}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}
