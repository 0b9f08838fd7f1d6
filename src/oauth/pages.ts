import type { Context } from "hono";
import { html as honoHtml, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * @module The few HTML pages of the authorization flow (sign-in, consent, errors). Every value is
 * escaped (hono's `html` template escapes whatever it interpolates, unless it is itself a
 * template or `raw`); pages refuse framing and caching.
 */

/**
 * hono's `html`, typed as what it is here: synchronous. It returns a promise only when a value
 * interpolated is one, and these templates interpolate strings and other templates only.
 */
const html = (strings: TemplateStringsArray, ...values: (string | undefined)[]): HtmlEscapedString => honoHtml(strings, ...values) as HtmlEscapedString;

const PAGE_HEADERS: Record<string, string> = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/**
 * An HTML page as the response, with the page headers. Built by the context, so headers set on it
 * before (a cookie set or cleared by setCookie/deleteCookie) are part of the reply.
 */
export function pageResponse(c: Context, body: HtmlEscapedString, status: ContentfulStatusCode = 200, extra: Record<string, string> = {}): Response {
  return c.body(body.toString(), status, { ...PAGE_HEADERS, ...extra });
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.4rem}code{background:#f2f2f2;padding:.1rem .3rem;border-radius:3px;word-break:break-all}
.card{border:1px solid #ddd;border-radius:8px;padding:1rem 1.25rem;margin:1rem 0}
button,.button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid #888;background:#fff;cursor:pointer;text-decoration:none;color:inherit}
button.primary{background:#1a1a1a;color:#fff;border-color:#1a1a1a}input{font:inherit;width:100%;padding:.4rem;box-sizing:border-box}
.error{color:#a00}`;

function page(title: string, body: HtmlEscapedString): HtmlEscapedString {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title><style>${raw(STYLE)}</style></head><body>${body}</body></html>`;
}

export function errorPage(title: string, message: string): HtmlEscapedString {
  return page(title, html`<h1>${title}</h1><p class="error">${message}</p>`);
}

export interface SignInView {
  request: string;
  csrf: string;
  clientName: string;
  presetLabel: string;
  error?: string;
  oidc?: { name: string; url: string };
}

export function signInPage(v: SignInView): HtmlEscapedString {
  const oidc = v.oidc ? html`<p><a class="button" href="${v.oidc.url}">Sign in with ${v.oidc.name}</a></p><p>or</p>` : "";
  return page(
    "Sign in to mcpgate",
    html`<h1>Sign in to mcpgate</h1>
<p><strong>${v.clientName}</strong> wants to use the preset <code>${v.presetLabel}</code>.</p>
${v.error ? html`<p class="error">${v.error}</p>` : ""}${oidc}
<form method="post" action="/oauth/login">
<input type="hidden" name="request" value="${v.request}">
<input type="hidden" name="csrf" value="${v.csrf}">
<label>Your mcpgate API token<br><input type="password" name="token" autocomplete="off" required placeholder="mcpg_..."></label>
<p><button class="primary" type="submit">Sign in</button></p>
</form>`,
  );
}

export interface ConsentView {
  request: string;
  csrf: string;
  userHandle: string;
  clientName: string;
  clientId: string;
  redirectUri: string;
  presetLabel: string;
  presetName: string;
  scope: string;
}

export function consentPage(v: ConsentView): HtmlEscapedString {
  return page(
    "Allow access?",
    html`<h1>Allow access to a preset?</h1>
<div class="card">
<p><strong>${v.clientName}</strong> (<code>${v.clientId}</code>)</p>
<p>wants to use the MCP preset <strong>${v.presetName}</strong> (<code>${v.presetLabel}</code>) as <strong>${v.userHandle}</strong>, with scope <code>${v.scope}</code>.</p>
<p>After you allow it, you will be sent to <code>${v.redirectUri}</code>.</p>
</div>
<form method="post" action="/oauth/consent">
<input type="hidden" name="request" value="${v.request}">
<input type="hidden" name="csrf" value="${v.csrf}">
<button class="primary" type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}

export interface ConnectView {
  /** `<owner>/<slug>/<server>`. */
  label: string;
  server: string;
  /** The form's action: the connect page itself. */
  action: string;
  csrf: string;
  /** Per-user header names, and whether this consumer has set them. */
  headers: string[];
  headersSet: boolean;
  /** The link that starts the OAuth connection, when the server uses OAuth. */
  oauthUrl: string | null;
  notice?: string;
  error?: string;
}

/** The connect page of a server with per-user headers (and maybe OAuth too). Values are never shown. */
export function connectPage(v: ConnectView): HtmlEscapedString {
  const fields = v.headers.map((n) => html`<label>${n}<br><input type="password" name="header:${n}" autocomplete="off" required></label><br>`);
  return page(
    "Connect an upstream",
    html`<h1>Your credentials for <code>${v.server}</code></h1>
<p>The preset <code>${v.label}</code> calls this server with your own credentials. The gateway stores them encrypted and never shows them again.</p>
${v.notice ? html`<p>${v.notice}</p>` : ""}${v.error ? html`<p class="error">${v.error}</p>` : ""}
<div class="card"><p>Headers: ${v.headers.join(", ")} (${v.headersSet ? "set" : "not set"})</p>
<form method="post" action="${v.action}">
<input type="hidden" name="csrf" value="${v.csrf}">
${raw(fields.map(String).join(""))}<p><button class="primary" type="submit">Save</button></p>
</form></div>
${v.oauthUrl ? html`<p><a class="button" href="${v.oauthUrl}">Connect your account at the upstream</a></p>` : ""}`,
  );
}

/** The end of a connection: shown in the window the consumer opened. */
export function connectedPage(server: string, label: string): HtmlEscapedString {
  return page(
    "Connected",
    html`<h1>Connected</h1><p>Your account is connected to <code>${server}</code> for the preset <code>${label}</code>. You can close this window.</p>`,
  );
}
