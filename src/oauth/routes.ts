import { type Context, Hono } from "hono";
import { cors } from "hono/cors";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../edge/app-env";
import { addressBucket } from "../policy/caller-key";
import { loadPresetConfig } from "../preset/config";
import { clientAddress } from "../shared/client-address";
import { publicUrl } from "../shared/public-url";
import { readLimitedText } from "../shared/read-limited";
import { authorizeGet, consentPost, loginPost } from "./authorize";
import { REGISTRATION_MAX_BYTES, registerClient } from "./clients";
import { OAuthError } from "./errors";
import { jwks } from "./keys";
import { authorizationServerMetadata, protectedResourceMetadata } from "./metadata";
import { oidcCallback, oidcStart } from "./oidc";
import { errorPage, pageResponse } from "./pages";
import { revokePost, tokenPost } from "./token-endpoint";

/**
 * @module The OAuth 2.1 authorization server of the gateway and the discovery documents of its
 * presets. Metadata, registration, token and revocation answer any origin (browser-based MCP
 * clients call them directly; they carry no cookies); the browser pages do not.
 */

/**
 * The routes, for `app.route("/", buildOAuth())`. An OAuthError thrown by any of them is answered
 * here as its JSON error (hono wraps each route of a sub-app that has its own onError); anything
 * else goes on to the app's 500 handler.
 */
export function buildOAuth(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.onError(async (err, c) => {
    if (err instanceof OAuthError) return err.toResponse();
    if (err instanceof HTTPException && err.status === 403) {
      // hono/csrf refused a cross-site form post (below), before its body was read.
      await c.req.raw.body?.cancel().catch(() => {});
      return pageResponse(c, errorPage("Request refused", "This form was not submitted from this gateway's own pages."), 403);
    }
    throw err;
  });
  const open = cors({
    origin: "*",
    allowMethods: ["GET", "POST", "OPTIONS"],
    allowHeaders: ["Authorization", "Content-Type", "MCP-Protocol-Version"],
    maxAge: 86400,
  });

  // Discovery documents name the issuer. Taken from PUBLIC_URL they may be cached publicly; taken
  // from the request's Host (no PUBLIC_URL) they are never cached, so a forged Host cannot poison
  // a shared cache for everyone.
  const discoveryCache = (c: Context<AppEnv>, maxAge: number) => (c.env.PUBLIC_URL ? `public, max-age=${maxAge}` : "no-store");
  const asMetadata = (c: Context<AppEnv>) => c.json(authorizationServerMetadata(publicUrl(c)), 200, { "cache-control": discoveryCache(c, 3600) });
  app.use("/.well-known/*", open);
  // RFC 8414 at the root (where 2025-03-26 clients look, having dropped the MCP URL's path), and
  // as OpenID discovery for clients that try that first.
  app.get("/.well-known/oauth-authorization-server", asMetadata);
  app.get("/.well-known/openid-configuration", asMetadata);

  app.get("/.well-known/oauth-protected-resource/mcp/:user/:slug", async (c) => {
    const { user, slug } = c.req.param();
    const preset = /^[a-z0-9-]{1,50}$/.test(user) && /^[a-z0-9-]{1,50}$/.test(slug) ? await loadPresetConfig(c.env, user, slug) : null;
    if (preset?.status !== "active") return c.json({ error: "not_found", error_description: "No preset at this URL." }, 404);
    return c.json(protectedResourceMetadata(publicUrl(c), user, slug), 200, { "cache-control": discoveryCache(c, 300) });
  });

  app.use("/oauth/jwks.json", open);
  app.get("/oauth/jwks.json", async (c) => c.json(await jwks(c.env), 200, { "cache-control": "public, max-age=300" }));

  app.use("/oauth/register", open);
  app.post("/oauth/register", async (c) => {
    const text = await readLimitedText(c.req.raw, REGISTRATION_MAX_BYTES);
    if (text === null) throw new OAuthError("invalid_client_metadata", `The body is larger than ${REGISTRATION_MAX_BYTES} bytes.`, 413);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new OAuthError("invalid_client_metadata", "The body must be a JSON object.");
    }
    return c.json(await registerClient(c.env, body, addressBucket(clientAddress(c.req.raw, c.env))), 201, { "cache-control": "no-store" });
  });

  // The browser forms refuse cross-site posts (Origin, or Sec-Fetch-Site, must be this gateway):
  // login CSRF and consent CSRF; each form also carries a token of its own (session.ts).
  const sameOrigin = csrf({ origin: (origin, c) => origin === new URL(publicUrl(c)).origin || origin === new URL(c.req.url).origin });
  app.use("/oauth/login", sameOrigin);
  app.use("/oauth/consent", sameOrigin);
  app.get("/oauth/authorize", authorizeGet);
  app.post("/oauth/login", loginPost);
  app.post("/oauth/consent", consentPost);
  app.get("/oauth/oidc/start", oidcStart);
  app.get("/oauth/oidc/callback", oidcCallback);

  app.use("/oauth/token", open);
  app.post("/oauth/token", tokenPost);
  app.use("/oauth/revoke", open);
  app.post("/oauth/revoke", revokePost);
  return app;
}
