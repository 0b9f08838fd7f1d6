/**
 * @module The browser side of per-user upstream credentials: the connect page
 * `/connect/<owner>/<slug>/<server>` (signed in with the gateway's own sign-in, with access to the
 * preset), its form for per-user headers (same-origin and a CSRF token bound to the session), the
 * redirect to the upstream's authorization server, the callback, and the gateway's Client ID
 * Metadata Document for those servers.
 */

import { type Context, Hono } from "hono";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { ConnectRefused, finishConnect, startConnect } from "../credentials/connect-flow";
import { type ConnectTarget, findConnectTarget } from "../credentials/connect-target";
import { findCredentials, saveUserHeaders } from "../credentials/credential-store";
import { guardOptions, UpstreamAuthError } from "../credentials/guarded-fetch";
import { CLIENT_METADATA_PATH, clientMetadataDocument } from "../credentials/registration";
import { checkUserHeaders } from "../credentials/user-headers";
import { getDb } from "../db/client";
import { insertEvent } from "../db/events-repository";
import type { AppEnv } from "../edge/app-env";
import { announceCredentialsChanged } from "../edge/preset-stub";
import { decideAccess } from "../policy/access";
import { ApiError } from "../shared/errors";
import { publicUrl } from "../shared/public-url";
import { signInForReturn } from "./authorize";
import { PAGE_FORM_MAX_BYTES, readFormBody } from "./form-body";
import { connectedPage, connectPage, errorPage, pageResponse } from "./pages";
import { type BrowserSession, checkCsrf, csrfToken, readSession, sealReturn } from "./session";

/** The target and the signed-in user with access to it, or the page that answers instead. */
async function gate(c: Context<AppEnv>, issuer: string, path: string): Promise<{ target: ConnectTarget; session: BrowserSession } | Response> {
  const target = await findConnectTarget(c.env, c.req.param("user") ?? "", c.req.param("slug") ?? "", c.req.param("server") ?? "");
  if (!target) return pageResponse(c, errorPage("Nothing to connect", "No preset server at this address takes its callers' own credentials."), 404);
  const session = await readSession(c, issuer);
  if (!session) return signInForReturn(c, issuer, await sealReturn(c.env, issuer, path));
  if (decideAccess(target.preset, session.userId) !== "allow") {
    return pageResponse(c, errorPage("No access", `Your account has no access to the preset ${target.preset.handle}/${target.preset.slug}.`), 403);
  }
  return { target, session };
}

async function headersPage(
  c: Context<AppEnv>,
  issuer: string,
  g: { target: ConnectTarget; session: BrowserSession },
  extra: { notice?: string; error?: string } = {},
) {
  const action = `/connect/${g.target.label}`;
  const rows = await findCredentials(c.env, g.session.userId, g.target.server.id);
  const headersSet = rows.some((r) => r.kind === "headers" && r.resource === g.target.server.url);
  return pageResponse(
    c,
    connectPage({
      label: `${g.target.preset.handle}/${g.target.preset.slug}`,
      server: g.target.server.name,
      action,
      csrf: await csrfToken(c.env, issuer, g.session, action),
      headers: g.target.server.userHeaders,
      headersSet,
      oauthUrl: g.target.server.auth === "oauth" ? `${action}?step=oauth` : null,
      ...extra,
    }),
    extra.error ? 400 : 200,
  );
}

function upstreamFailurePage(c: Context<AppEnv>, e: unknown): Response {
  if (e instanceof ConnectRefused) return pageResponse(c, errorPage("Connection refused", e.message), 400);
  if (e instanceof UpstreamAuthError) return pageResponse(c, errorPage("Upstream authorization failed", e.message), 502);
  if (e instanceof ApiError) return pageResponse(c, errorPage("Connection refused", e.message), e.status);
  throw e;
}

export function buildConnect(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.onError(async (err, c) => {
    if (err instanceof HTTPException && err.status === 403) {
      await c.req.raw.body?.cancel().catch(() => {});
      return pageResponse(c, errorPage("Request refused", "This form was not submitted from this gateway's own pages."), 403);
    }
    throw err;
  });

  app.get(CLIENT_METADATA_PATH, (c) =>
    c.json(clientMetadataDocument(publicUrl(c)), 200, { "cache-control": c.env.PUBLIC_URL ? "public, max-age=3600" : "no-store" }),
  );

  app.get("/connect/callback", async (c) => {
    const issuer = publicUrl(c);
    const session = await readSession(c, issuer);
    const state = c.req.query("state");
    if (!session) return pageResponse(c, errorPage("Not signed in", "Sign in to the gateway, then start again from the connect page."), 401);
    if (!state) return pageResponse(c, errorPage("Connection refused", "The reply has no state."), 400);
    try {
      const done = await finishConnect(
        c.env,
        { userId: session.userId, state, code: c.req.query("code") ?? null, iss: c.req.query("iss") ?? null, error: c.req.query("error") ?? null },
        guardOptions(c.env),
      );
      await announceCredentialsChanged(c.env, done.serverId, session.userId);
      const db = getDb(c.env.DB);
      const event = insertEvent(db, {
        ownerId: done.ownerId,
        presetId: null,
        actorId: session.userId,
        type: "credential.connected",
        target: done.serverName,
        payload: { serverId: done.serverId, kind: "oauth", scope: done.tokens.scope },
      });
      c.executionCtx.waitUntil(event.run().catch((e: unknown) => console.error("audit event failed", e)));
      const [owner, slug] = done.label.split("/");
      return pageResponse(c, connectedPage(done.serverName, `${owner}/${slug}`));
    } catch (e) {
      return upstreamFailurePage(c, e);
    }
  });

  app.get("/connect/:user/:slug/:server", async (c) => {
    const issuer = publicUrl(c);
    const step = c.req.query("step") === "oauth" ? "?step=oauth" : "";
    const g = await gate(c, issuer, `${new URL(c.req.url).pathname}${step}`);
    if (g instanceof Response) return g;
    if (g.target.server.userHeaders.length > 0 && !step) return headersPage(c, issuer, g);
    try {
      const target = await startConnect(
        c.env,
        { userId: g.session.userId, server: g.target.server, origin: issuer, label: g.target.label },
        guardOptions(c.env),
      );
      return c.redirect(target, 302);
    } catch (e) {
      return upstreamFailurePage(c, e);
    }
  });

  const sameOrigin = csrf({ origin: (origin, c) => origin === new URL(publicUrl(c)).origin || origin === new URL(c.req.url).origin });
  app.post("/connect/:user/:slug/:server", sameOrigin, async (c) => {
    const issuer = publicUrl(c);
    const body = await readFormBody(c.req.raw, PAGE_FORM_MAX_BYTES);
    if (!body.ok) return pageResponse(c, errorPage("Bad request", "The form must be a form of at most 64 KiB."), body.problem === "too_large" ? 413 : 400);
    const g = await gate(c, issuer, new URL(c.req.url).pathname);
    if (g instanceof Response) return g;
    const action = `/connect/${g.target.label}`;
    if (!(await checkCsrf(c.env, issuer, g.session, action, body.form.get("csrf") ?? ""))) {
      return pageResponse(c, errorPage("Request refused", "This form was not submitted from your own connect page, or your session ended."), 403);
    }
    const given: Record<string, string> = {};
    for (const [k, v] of body.form) if (k.startsWith("header:")) given[k.slice("header:".length)] = v;
    const check = checkUserHeaders(g.target.server.userHeaders, given);
    if (!check.ok) return headersPage(c, issuer, g, { error: `${check.field}: ${check.problem}` });
    try {
      await saveUserHeaders(c.env, g.session.userId, g.target.server.id, g.target.server.url, check.headers);
    } catch (e) {
      return upstreamFailurePage(c, e);
    }
    const event = insertEvent(getDb(c.env.DB), {
      ownerId: g.target.preset.ownerId,
      presetId: g.target.preset.id,
      actorId: g.session.userId,
      type: "credential.headers_set",
      target: g.target.server.name,
      payload: { serverId: g.target.server.id, headerNames: Object.keys(check.headers) },
    });
    c.executionCtx.waitUntil(event.run().catch((e: unknown) => console.error("audit event failed", e)));
    return headersPage(c, issuer, g, { notice: "Saved." });
  });
  return app;
}
