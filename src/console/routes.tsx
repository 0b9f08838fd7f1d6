/**
 * @module The web console under /console: server-rendered pages (Hono JSX) over the same domain and
 * database code as the management API, with a server-side session (session-store.ts).
 *
 * Routes: GET / → /console; GET /console (presets); GET|POST /console/signin; GET /console/signin/oidc
 * (the end of an OIDC sign-in); POST /console/signout; GET /console/presets/new; POST /console/presets;
 * GET /console/presets/:slug; POST /console/presets/:slug/servers (attach); GET|POST
 * /console/presets/:slug/servers/:name (curation: tools, selection, overrides); GET|POST
 * /console/presets/:slug/servers/:name/detach (confirm, detach); GET /console/assets/console.<version>.{css,js};
 * the management pages mounted from manage-servers.tsx (/console/servers…), manage-tokens.tsx
 * (/console/tokens…), manage-preset.tsx (/console/presets/:slug/{settings,delete,members,grants,clone,export})
 * manage-transfer.tsx (/console/import, /console/fork), public-preset.tsx (/console/p/:handle/:slug),
 * watch.tsx (/console/presets/:slug/{watch,events,events.ndjson,calls}), server-status.tsx
 * (/console/servers/:name/status) and drift-review.tsx (/console/presets/:slug/drift…).
 *
 * Every state change is a POST that must come from the gateway's own origin (Origin header) and
 * carry the session's CSRF token (the sign-in form: the OAuth sign-in's token bound to a
 * pre-sign-in cookie); anything else is 403 and changes nothing.
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { JSX } from "hono/jsx/jsx-runtime";
import { resolveApiTokenScope } from "../accounts/api-tokens";
import { clashesOf } from "../api/naming-check";
import { attachServer, detachServer } from "../api/preset-servers";
import { createPreset, listPresetViews, presetView } from "../api/presets";
import { AttachServerBody, CreatePresetBody } from "../api/schemas";
import { findOwnServer, liveItems, liveTools } from "../api/servers";
import { getDb } from "../db/client";
import { findPreset } from "../db/presets-repository";
import type { AppEnv } from "../edge/app-env";
import { oidcEnabled } from "../oauth/oidc";
import { checkSignInCsrf, readSession as readOAuthBrowserSession, sealReturn, signInCsrfToken } from "../oauth/session";
import { ApiError } from "../shared/errors";
import { publicUrl } from "../shared/public-url";
import { exposedNameIn } from "../tools/catalog";
import { buildStats, statsRange } from "../usage/stats";
import { readOwnerSeries } from "../usage/stats-query";
import { ASSET_VERSION, CONSOLE_CSS, CONSOLE_JS } from "./assets";
import type { ConsoleEnv, ConsoleKit, PageStatus } from "./console-kit";
import { AttachedServers, CurationPage, curationFromForm, DetachPage } from "./curation";
import { itemsFromForm, shownItems } from "./curation-items";
import { mountDriftPages } from "./drift-review";
import { mountPresetPages } from "./manage-preset";
import { mountServerPages } from "./manage-servers";
import { mountTokenPages } from "./manage-tokens";
import { MAX_IMPORT_FORM_BYTES, mountTransferPages } from "./manage-transfer";
import { MessagePage, NewPresetPage, type PresetForm, PresetPage, type PresetRow, PresetsPage, type SignedIn, SignInPage } from "./pages";
import { mountPublicPresetPages } from "./public-preset";
import { mountServerStatusPages } from "./server-status";
import { ABSOLUTE_TTL_MS, createSession, csrfMatches, deleteSession, readSession } from "./session-store";
import { mountWatchPages } from "./watch";

/** The session cookie, `__Host-mcpgate_console` on the wire (hono adds the prefix). */
const COOKIE = "mcpgate_console";
const COOKIE_OPTIONS = { prefix: "host", path: "/", secure: true, httpOnly: true, sameSite: "Lax" } as const;
/** What the sign-in form's CSRF token is bound to, besides the pre-sign-in cookie. */
const SIGN_IN_REQUEST = "console-signin";
const MAX_FORM_BYTES = 16 * 1024;
/** A curation form carries a checkbox and two override fields per tool: hundreds of tools need more room. */
const MAX_CURATION_FORM_BYTES = 1024 * 1024;
/** The import form is the one multipart form (a document file upload); manage-transfer.tsx checks the file's own size too. */
const MULTIPART_PATH = "/console/import";

/** Headers of every console page: no inline script or style may run, no framing, no caching. */
const PAGE_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
};

type C = Context<ConsoleEnv>;

/**
 * The console's context as the API's code takes it: the same request, bindings and `userId`
 * (requireSession sets it like the API's auth does); only the console's own variables are extra.
 */
const asApp = (c: C) => c as unknown as Context<AppEnv>;

function render(c: C, page: JSX.Element, status: PageStatus = 200): Response {
  return c.html(`<!doctype html>${page}`, status);
}

const securityHeaders: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
  await next();
  for (const [k, v] of Object.entries(PAGE_HEADERS)) c.res.headers.set(k, v);
};

/** Refuses a POST from another origin, or with an oversized or non-form body (multipart only for the import form). */
const sameOriginForm: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
  if (c.req.method !== "POST") return next();
  const origin = c.req.header("origin");
  const own = [new URL(publicUrl(c)).origin, new URL(c.req.url).origin];
  if (!origin || !own.includes(origin)) return refuse(c, "This form was not sent from this gateway's pages.");
  const type = c.req.header("content-type") ?? "";
  const multipart = c.req.path === MULTIPART_PATH && type.startsWith("multipart/form-data");
  if (!multipart && !type.startsWith("application/x-www-form-urlencoded")) return refuse(c, "Console forms are sent as application/x-www-form-urlencoded.");
  const limit = multipart ? MAX_IMPORT_FORM_BYTES : /^\/console\/presets\/[^/]+\/servers\/[^/]+$/.test(c.req.path) ? MAX_CURATION_FORM_BYTES : MAX_FORM_BYTES;
  if (Number(c.req.header("content-length") ?? limit + 1) > limit) {
    if (multipart) return render(c, <MessagePage title="Request refused" message={`The upload is too large: at most ${limit / 1024} KB.`} />, 413);
    return refuse(c, "The form is too large.");
  }
  return next();
};

function refuse(c: C, message: string): Response {
  return render(c, <MessagePage title="Request refused" message={message} />, 403);
}

async function form(c: C): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  return Object.fromEntries(Object.entries(body).filter((e): e is [string, string] => typeof e[1] === "string"));
}

/** Loads the session named by the cookie; without one, GETs go to the sign-in page and POSTs are refused. */
const requireSession: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
  const session = await readSession(c.env.DB, getCookie(c, COOKIE, "host"), (p) => c.executionCtx.waitUntil(p));
  const user = session ? await c.env.DB.prepare("SELECT handle FROM users WHERE id = ?").bind(session.userId).first<{ handle: string }>() : null;
  if (!session || !user) {
    if (c.req.method !== "GET") return refuse(c, "Your console session has ended: sign in again.");
    return c.redirect("/console/signin", 303);
  }
  if (c.req.method === "POST" && !csrfMatches(session, (await form(c)).csrf))
    return refuse(c, "The form's security token is missing or stale: reload the page.");
  c.set("session", session);
  c.set("handle", user.handle);
  c.set("userId", session.userId);
  return next();
};

const signedIn = (c: C): SignedIn => ({ handle: c.get("handle"), csrf: c.get("session").csrf });

/**
 * Every preset of the signed-in user with its calls and errors per 15-minute bucket over the last
 * 24 h, from the usage rollups GET /presets/:slug/stats reads: three queries for the whole list.
 */
async function presetRows(c: C): Promise<PresetRow[]> {
  const range = statsRange("24h", Date.now());
  const [views, series] = await Promise.all([listPresetViews(asApp(c)), readOwnerSeries(c.env.DB, c.get("userId"), range)]);
  return views.map((preset) => {
    const rows = { totals: undefined, tools: [], upstreams: [], callers: [], callerCount: 0, series: series.get(preset.id) ?? [] };
    const points = buildStats(`${preset.owner}/${preset.slug}`, "24h", range, rows).series;
    const sum = (k: "calls" | "errors") => points.reduce((n, p) => n + p[k], 0);
    return { preset, series: points, calls: sum("calls"), errors: sum("errors") };
  });
}

/** Where the OIDC sign-in returns to: the gateway's OAuth sign-in (oauth/oidc.ts) ends there with its own browser session. */
const OIDC_RETURN = "/console/signin/oidc";

async function signInPage(c: C, error?: string, status: 200 | 400 | 403 = 200) {
  const issuer = publicUrl(c);
  const csrf = await signInCsrfToken(asApp(c), issuer, SIGN_IN_REQUEST);
  const oidc = oidcEnabled(c.env)
    ? {
        name: c.env.OIDC_NAME || "your identity provider",
        url: `/oauth/oidc/start?request=${encodeURIComponent(await sealReturn(c.env, issuer, OIDC_RETURN))}`,
      }
    : undefined;
  return render(c, <SignInPage csrf={csrf} error={error} oidc={oidc} />, status);
}

/** Starts a console session for `userId` in this browser, ending one it already had. */
async function startSession(c: C, userId: string): Promise<Response> {
  const previous = await readSession(c.env.DB, getCookie(c, COOKIE, "host"), (p) => c.executionCtx.waitUntil(p));
  if (previous) await deleteSession(c.env.DB, previous.idHash);
  const { cookie } = await createSession(c.env.DB, userId);
  setCookie(c, COOKIE, cookie, { ...COOKIE_OPTIONS, maxAge: ABSOLUTE_TTL_MS / 1000 });
  return c.redirect("/console", 303);
}

async function ownServerNames(c: C): Promise<string[]> {
  const rows = await getDb(c.env.DB).query.servers.findMany({
    where: (s, { eq }) => eq(s.ownerId, c.get("userId")),
    orderBy: (s, { asc }) => asc(s.name),
    columns: { name: true },
  });
  return rows.map((r) => r.name);
}

/** An ApiError of the shared API code as a console page; anything else is rethrown. */
function apiErrorPage(c: C, e: unknown): Response {
  if (!(e instanceof ApiError)) throw e;
  const status = e.status === 404 || e.status === 409 || e.status === 502 || e.status === 504 ? e.status : 400;
  return render(c, <MessagePage title={status === 404 ? "Not found" : "Not done"} message={e.message} user={signedIn(c)} />, status);
}

/**
 * Curation (curation.tsx): POST /console/presets/:slug/servers (attach), GET|POST
 * /console/presets/:slug/servers/:name (the tools page, save), GET|POST …/:name/detach.
 */
function curationRoutes(pages: Hono<ConsoleEnv>) {
  pages.post("/presets/:slug/servers", async (c) => {
    const slug = c.req.param("slug");
    const server = (await form(c)).server ?? "";
    try {
      await attachServer(asApp(c), slug, server, {});
    } catch (e) {
      return apiErrorPage(c, e);
    }
    return c.redirect(`/console/presets/${slug}/servers/${encodeURIComponent(server)}`, 303);
  });
  const load = async (c: C) => {
    const preset = await presetView(asApp(c), c.req.param("slug") ?? "");
    const attached = preset.servers.find((s) => s.name === c.req.param("name"));
    if (!attached) throw new ApiError(404, "not_found", `Server '${c.req.param("name")}' is not attached to preset '${preset.slug}'.`);
    const row = await findOwnServer(asApp(c), attached.name);
    const unlisted = (e: unknown) => {
      if (e instanceof ApiError) return { error: e.message };
      throw e;
    };
    const [tools, items] = await Promise.all([liveTools(asApp(c), row).catch(unlisted), liveItems(asApp(c), row).then(shownItems).catch(unlisted)]);
    const state = { tools: attached.tools, overrides: attached.overrides, prompts: attached.prompts, resources: attached.resources };
    return { preset, server: attached.name, tools, items, state };
  };
  pages.get("/presets/:slug/servers/:name", async (c) => {
    try {
      const p = await load(c);
      return render(c, <CurationPage user={signedIn(c)} {...p} errors={{}} saved={c.req.query("saved") === "1"} />);
    } catch (e) {
      return apiErrorPage(c, e);
    }
  });
  pages.post("/presets/:slug/servers/:name", async (c) => {
    let p: Awaited<ReturnType<typeof load>>;
    try {
      p = await load(c);
    } catch (e) {
      return apiErrorPage(c, e);
    }
    if ("error" in p.tools) return render(c, <CurationPage user={signedIn(c)} {...p} errors={{}} formError="Nothing was saved." />, 502);
    const fields = await form(c);
    const wanted = {
      ...curationFromForm(
        fields,
        p.tools.map((t) => t.name),
        p.state,
      ),
      ...itemsFromForm(fields, "error" in p.items ? undefined : p.items, p.state),
    };
    const page = (status: 400 | 409, formError: string, errors: Record<string, string>) =>
      render(c, <CurationPage user={signedIn(c)} {...p} state={wanted} errors={errors} formError={formError} />, status);
    const parsed = AttachServerBody.safeParse(wanted);
    if (!parsed.success) {
      const errors: Record<string, string> = {};
      for (const issue of parsed.error.issues) {
        const tool = issue.path[0] === "overrides" ? String(issue.path[1] ?? "") : "";
        errors[tool] ??= `${issue.path.slice(2).join(".") || "selection"} ${issue.message}`;
      }
      return page(400, "Nothing was saved: fix the fields marked below.", errors);
    }
    try {
      await attachServer(asApp(c), p.preset.slug, p.server, parsed.data);
    } catch (e) {
      const clashes = clashesOf(e);
      if (!clashes.length) return apiErrorPage(c, e);
      const src = { server: p.server, naming: p.preset.toolNaming, overrides: wanted.overrides };
      const errors: Record<string, string> = {};
      for (const t of p.tools) {
        const clash = clashes.find((x) => x.name === exposedNameIn(src, t.name));
        if (clash && (!wanted.tools || wanted.tools.includes(t.name)))
          errors[t.name] = `Name clash: '${clash.name}' is also exposed by ${clash.servers.join(", ")}.`;
      }
      return page(409, `Nothing was saved. ${(e as Error).message}`, errors);
    }
    return c.redirect(`/console/presets/${p.preset.slug}/servers/${encodeURIComponent(p.server)}?saved=1`, 303);
  });
  pages.get("/presets/:slug/servers/:name/detach", async (c) => {
    try {
      const p = await presetView(asApp(c), c.req.param("slug"));
      const name = c.req.param("name");
      if (!p.servers.some((s) => s.name === name)) throw new ApiError(404, "not_found", `Server '${name}' is not attached to preset '${p.slug}'.`);
      return render(c, <DetachPage user={signedIn(c)} slug={p.slug} server={name} />);
    } catch (e) {
      return apiErrorPage(c, e);
    }
  });
  pages.post("/presets/:slug/servers/:name/detach", async (c) => {
    try {
      await detachServer(asApp(c), c.req.param("slug"), c.req.param("name"));
    } catch (e) {
      return apiErrorPage(c, e);
    }
    return c.redirect(`/console/presets/${c.req.param("slug")}`, 303);
  });
}

export function buildConsole(): Hono<AppEnv> {
  const app = new Hono<ConsoleEnv>();
  app.get("/", (c) => c.redirect("/console", 303));
  app.get(`/console/assets/console.${ASSET_VERSION}.css`, (c) =>
    c.body(CONSOLE_CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=86400", "x-content-type-options": "nosniff" }),
  );
  app.get(`/console/assets/console.${ASSET_VERSION}.js`, (c) =>
    c.body(CONSOLE_JS, 200, {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": "public, max-age=86400",
      "x-content-type-options": "nosniff",
    }),
  );
  const pages = new Hono<ConsoleEnv>();
  pages.use("*", securityHeaders, sameOriginForm);

  pages.get("/signin", async (c) => {
    const session = await readSession(c.env.DB, getCookie(c, COOKIE, "host"), (p) => c.executionCtx.waitUntil(p));
    if (session) return c.redirect("/console", 303);
    return signInPage(c);
  });
  pages.post("/signin", async (c) => {
    const body = await form(c);
    if (!(await checkSignInCsrf(asApp(c), publicUrl(c), SIGN_IN_REQUEST, body.csrf ?? ""))) {
      return refuse(c, "The sign-in form's security token is missing or stale: reload the sign-in page.");
    }
    const resolved = await resolveApiTokenScope(c.env.DB, (body.token ?? "").trim(), (p) => c.executionCtx.waitUntil(p));
    if (!resolved) return signInPage(c, "That token is not valid.", 400);
    if (resolved.scope !== "manage") return signInPage(c, "That token has scope 'mcp': the console needs a token with scope 'manage'.", 400);
    return startSession(c, resolved.userId);
  });
  // The end of a sign-in through the OIDC provider: the gateway's OAuth browser session (a signed
  // `__Host-` cookie that only a completed sign-in sets) says who signed in. It can only sign a
  // browser in as the user that browser already proved to be, so a GET is safe here.
  pages.get("/signin/oidc", async (c) => {
    const browser = await readOAuthBrowserSession(asApp(c), publicUrl(c));
    if (!browser) return signInPage(c, "The sign-in through the identity provider did not complete: try again.", 403);
    return startSession(c, browser.userId);
  });

  pages.use("*", requireSession);
  pages.post("/signout", async (c) => {
    await deleteSession(c.env.DB, c.get("session").idHash);
    deleteCookie(c, COOKIE, COOKIE_OPTIONS);
    return c.redirect("/console/signin", 303);
  });
  pages.get("/", async (c) => {
    return render(c, <PresetsPage user={signedIn(c)} rows={await presetRows(c)} />);
  });
  pages.get("/presets/new", (c) => render(c, <NewPresetPage user={signedIn(c)} values={{ slug: "", name: "", visibility: "private" }} errors={{}} />));
  pages.post("/presets", async (c) => {
    const body = await form(c);
    const values: PresetForm = { slug: body.slug ?? "", name: body.name ?? "", visibility: body.visibility ?? "" };
    const parsed = CreatePresetBody.safeParse(values);
    if (!parsed.success) {
      const errors: Record<string, string> = {};
      for (const issue of parsed.error.issues) {
        const field = String(issue.path[0] ?? "");
        errors[field] ??= issue.message;
      }
      return render(c, <NewPresetPage user={signedIn(c)} values={values} errors={errors} />, 400);
    }
    try {
      await createPreset(asApp(c), parsed.data);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) return render(c, <NewPresetPage user={signedIn(c)} values={values} errors={{ slug: e.message }} />, 409);
      throw e;
    }
    return c.redirect(`/console/presets/${parsed.data.slug}?created=1`, 303);
  });
  pages.get("/presets/:slug", async (c) => {
    const slug = c.req.param("slug");
    const found = /^[a-z0-9-]{1,50}$/.test(slug) ? await findPreset(getDb(c.env.DB), c.get("userId"), slug) : undefined;
    if (!found) return render(c, <MessagePage title="Not found" message={`You have no preset '${slug}'.`} user={signedIn(c)} />, 404);
    const preset = await presetView(asApp(c), slug);
    const attached = preset.servers.map((s) => s.name);
    const available = (await ownServerNames(c)).filter((n) => !attached.includes(n));
    return render(
      c,
      <PresetPage user={signedIn(c)} preset={preset} created={c.req.query("created") === "1"}>
        <AttachedServers slug={slug} csrf={signedIn(c).csrf} attached={attached} available={available} />
      </PresetPage>,
    );
  });
  curationRoutes(pages);
  const kit: ConsoleKit = { render, form, signedIn, asApp };
  mountServerPages(pages, kit);
  mountTokenPages(pages, kit);
  mountPresetPages(pages, kit);
  mountTransferPages(pages, kit);
  mountWatchPages(pages, kit);
  mountServerStatusPages(pages, kit);
  mountDriftPages(pages, kit);
  mountPublicPresetPages(pages, kit);
  app.route("/console", pages);
  return app as unknown as Hono<AppEnv>;
}
