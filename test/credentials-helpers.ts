import { env } from "cloudflare:test";
import { api, createUser, type TestUser, unique } from "./helpers";
import { browse, cookieOf, loginForm, type Page } from "./oauth-helpers";

/** The MCP URL of a tenant of test/fixtures/oauth-upstream.mjs. */
export const oauthUpstream = (mode: string) => `${env.OAUTH_UPSTREAM_BASE}/t/${mode}/mcp`;
export const byoUpstream = () => `${env.OAUTH_UPSTREAM_BASE}/byo/mcp`;

export interface CredPreset {
  owner: TestUser;
  slug: string;
  server: string;
  /** The connect page's path. */
  connectPath: string;
}

/** A preset with one server registered with `fields` (auth, headers), attached with all its tools. */
export async function credPreset(
  url: string,
  fields: Record<string, unknown>,
  opts: { visibility?: "public" | "private" | "invite_only"; members?: TestUser[]; owner?: TestUser } = {},
): Promise<CredPreset> {
  const owner = opts.owner ?? (await createUser());
  const slug = unique("cp");
  const server = `s${crypto.randomUUID().slice(0, 8)}`;
  const made = await api("POST", "/servers", { token: owner.token, body: { name: server, url, ...fields } });
  if (made.status !== 201) throw new Error(`server: ${made.status} ${JSON.stringify(made.body)}`);
  const preset = await api("POST", "/presets", { token: owner.token, body: { slug, name: slug, visibility: opts.visibility ?? "public" } });
  if (preset.status !== 201) throw new Error(`preset: ${preset.status} ${JSON.stringify(preset.body)}`);
  const attached = await api("PUT", `/presets/${slug}/servers/${server}`, { token: owner.token, body: {} });
  if (attached.status !== 201) throw new Error(`attach: ${attached.status} ${JSON.stringify(attached.body)}`);
  for (const m of opts.members ?? []) await api("POST", `/presets/${slug}/members`, { token: owner.token, body: { handle: m.handle } });
  return { owner, slug, server, connectPath: `/connect/${owner.handle}/${slug}/${server}` };
}

/** Signs `user` in through the sign-in page `path` shows; returns the session cookie and where it sent the browser. */
export async function signInAt(path: string, user: TestUser): Promise<{ cookie: string; location: string | null }> {
  const page = await browse(path);
  if (page.status !== 200) throw new Error(`sign-in page: ${page.status} ${page.location ?? page.html.slice(0, 300)}`);
  const posted = await browse("/oauth/login", loginForm(page, user.token));
  if (posted.status !== 303) throw new Error(`login: ${posted.status} ${posted.html.slice(0, 300)}`);
  return { cookie: cookieOf(posted), location: posted.location };
}

/** The upstream authorization server's answer to the authorize URL, as `account`: the redirect back. */
export async function approveAtUpstream(authorizeUrl: string, account: string, ttl?: number): Promise<string> {
  const url = new URL(authorizeUrl);
  url.searchParams.set("login_hint", account);
  if (ttl !== undefined) url.searchParams.set("ttl", String(ttl));
  const res = await fetch(url, { redirect: "manual" });
  const location = res.headers.get("location");
  await res.text();
  if (res.status !== 302 || !location) throw new Error(`upstream authorize: ${res.status}`);
  return location;
}

/** The whole consumer side of connecting: sign in, the redirect to the upstream, approval, the callback. */
export async function connectAs(p: CredPreset, user: TestUser, account: string, opts: { ttl?: number } = {}): Promise<{ cookie: string; done: Page }> {
  const { cookie } = await signInAt(p.connectPath, user);
  const start = await browse(p.connectPath, { cookie });
  if (start.status !== 302 || !start.location) throw new Error(`connect: ${start.status} ${start.html.slice(0, 300)}`);
  const back = await approveAtUpstream(start.location, account, opts.ttl);
  const done = await browse(back, { cookie });
  return { cookie, done };
}

export async function oauthStats(
  account: string,
): Promise<{ seen: { account: string; token: string }[]; refreshes: number; revoked: string[]; keys: string[] }> {
  return (await fetch(`${env.OAUTH_UPSTREAM_BASE}/__oauth/stats?account=${encodeURIComponent(account)}`)).json();
}
