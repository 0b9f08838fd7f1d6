/**
 * The few HTML pages of the authorization flow (sign-in, consent, errors). Every value is
 * escaped; pages refuse framing and caching.
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

export const PAGE_HEADERS: Record<string, string> = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/** An HTML page as a response, with the page headers. */
export function pageResponse(body: string, status = 200, extra: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { ...PAGE_HEADERS, ...extra } });
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.4rem}code{background:#f2f2f2;padding:.1rem .3rem;border-radius:3px;word-break:break-all}
.card{border:1px solid #ddd;border-radius:8px;padding:1rem 1.25rem;margin:1rem 0}
button,.button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid #888;background:#fff;cursor:pointer;text-decoration:none;color:inherit}
button.primary{background:#1a1a1a;color:#fff;border-color:#1a1a1a}input{font:inherit;width:100%;padding:.4rem;box-sizing:border-box}
.error{color:#a00}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

export function errorPage(title: string, message: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p class="error">${escapeHtml(message)}</p>`);
}

export interface SignInView {
  request: string;
  clientName: string;
  presetLabel: string;
  error?: string;
  oidc?: { name: string; url: string };
}

export function signInPage(v: SignInView): string {
  const oidc = v.oidc ? `<p><a class="button" href="${escapeHtml(v.oidc.url)}">Sign in with ${escapeHtml(v.oidc.name)}</a></p><p>or</p>` : "";
  return page(
    "Sign in to mcpgate",
    `<h1>Sign in to mcpgate</h1>
<p><strong>${escapeHtml(v.clientName)}</strong> wants to use the preset <code>${escapeHtml(v.presetLabel)}</code>.</p>
${v.error ? `<p class="error">${escapeHtml(v.error)}</p>` : ""}${oidc}
<form method="post" action="/oauth/login">
<input type="hidden" name="request" value="${escapeHtml(v.request)}">
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

export function consentPage(v: ConsentView): string {
  return page(
    "Allow access?",
    `<h1>Allow access to a preset?</h1>
<div class="card">
<p><strong>${escapeHtml(v.clientName)}</strong> (<code>${escapeHtml(v.clientId)}</code>)</p>
<p>wants to use the MCP preset <strong>${escapeHtml(v.presetName)}</strong> (<code>${escapeHtml(v.presetLabel)}</code>) as <strong>${escapeHtml(v.userHandle)}</strong>, with scope <code>${escapeHtml(v.scope)}</code>.</p>
<p>After you allow it, you will be sent to <code>${escapeHtml(v.redirectUri)}</code>.</p>
</div>
<form method="post" action="/oauth/consent">
<input type="hidden" name="request" value="${escapeHtml(v.request)}">
<input type="hidden" name="csrf" value="${escapeHtml(v.csrf)}">
<button class="primary" type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}
