import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { addPreset, addServer, api, attach, createUser, presetUrl, type TestUser, upstreamUrl } from "../helpers";
import { authorizeInBrowser, authorizeUrl, pkce, registerClient } from "../oauth-helpers";
import { ConsoleBrowser, csrfOf } from "./console-helpers";

async function signedIn(): Promise<{ user: TestUser; browser: ConsoleBrowser }> {
  const user = await createUser();
  const browser = new ConsoleBrowser();
  expect((await browser.signIn(user)).status).toBe(303);
  return { user, browser };
}

async function eventsOf(ownerId: string, type: string): Promise<{ target: string; payload: string }[]> {
  const rows = await env.DB.prepare("SELECT target, payload FROM events WHERE owner_id = ? AND type = ? ORDER BY id")
    .bind(ownerId, type)
    .all<{ target: string; payload: string }>();
  return rows.results;
}

const SECRET = "Bearer s3cr3t-value-never-rendered";

describe("console servers pages", () => {
  it("registers a server with a secret header that never appears in any HTML response", async () => {
    const { user, browser } = await signedIn();
    const csrf = await browser.csrf("/console/servers/new");
    const bodies: string[] = [];
    const created = await browser.post("/console/servers", {
      csrf,
      name: "alpha",
      url: upstreamUrl("alpha"),
      timeoutMs: "5000",
      "header-name-0": "Authorization",
      "header-value-0": SECRET,
    });
    expect(created.status).toBe(303);
    expect(created.headers.get("location")).toBe("/console/servers?done=registered");
    const fromApi = await api("GET", "/servers/alpha", { token: user.token });
    expect(fromApi.body.headers).toEqual({ Authorization: "********" });
    expect(fromApi.body.timeoutMs).toBe(5000);
    expect(await eventsOf(user.id, "server.created")).toHaveLength(1);

    const list = await browser.get("/console/servers");
    const listHtml = await list.text();
    bodies.push(listHtml);
    expect(listHtml).toContain("Authorization: ********");
    const edit = await browser.get("/console/servers/alpha");
    expect(edit.status).toBe(200);
    const editHtml = await edit.text();
    bodies.push(editHtml);
    expect(editHtml).toContain("Leave a value blank to keep the stored one");
    // A refused edit re-renders the form: still no value.
    const refused = await browser.post("/console/servers/alpha", {
      csrf,
      name: "alpha",
      url: upstreamUrl("alpha"),
      timeoutMs: "5",
      "header-name-0": "Authorization",
    });
    expect(refused.status).toBe(400);
    const refusedHtml = await refused.text();
    bodies.push(refusedHtml);
    expect(refusedHtml).toContain("must be at least 100");
    bodies.push(await (await browser.get("/console/servers/alpha/delete")).text());
    for (const html of bodies) expect(html).not.toContain("s3cr3t");
  });

  it("keeps a stored header value when the edit leaves it blank, and replaces it when given", async () => {
    const { user, browser } = await signedIn();
    await addServer(user, "alpha", upstreamUrl("alpha"), { headers: { Authorization: SECRET } });
    const csrf = await browser.csrf("/console/servers/alpha");
    const kept = await browser.post("/console/servers/alpha", {
      csrf,
      name: "alpha",
      url: upstreamUrl("alpha"),
      timeoutMs: "7000",
      "header-name-0": "Authorization",
      "header-value-0": "",
      "header-name-1": "X-Extra",
      "header-value-1": "extra",
    });
    expect(kept.status).toBe(303);
    const row = await env.DB.prepare("SELECT header_names AS names, timeout_ms AS t FROM servers WHERE owner_id = ?")
      .bind(user.id)
      .first<{ names: string; t: number }>();
    expect(JSON.parse(row?.names ?? "[]")).toEqual(["Authorization", "X-Extra"]);
    expect(row?.t).toBe(7000);
    const updated = await eventsOf(user.id, "server.updated");
    expect(updated).toHaveLength(1);
    expect(updated[0]?.payload).not.toContain("s3cr3t");
    // The upstream still gets the stored Authorization: the tool list works through the gateway's client.
    expect((await api("GET", "/servers/alpha/tools", { token: user.token })).status).toBe(200);
  });

  it("refuses a blank value for a new header with a message next to the headers", async () => {
    const { browser } = await signedIn();
    const csrf = await browser.csrf("/console/servers/new");
    const res = await browser.post("/console/servers", { csrf, name: "Bad Name", url: "ftp://x", "header-name-0": "Host", "header-value-0": "x" });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('id="name-error"');
    expect(html).toContain('id="headers-error"');
    expect(html).toContain('aria-invalid="true"');
  });

  it("explains a taken name with 409 and deletes only after the confirmation step; 409 while attached", async () => {
    const { user, browser } = await signedIn();
    await addServer(user, "alpha", upstreamUrl("alpha"));
    const csrf = await browser.csrf("/console/servers/new");
    const taken = await browser.post("/console/servers", { csrf, name: "alpha", url: upstreamUrl("alpha") });
    expect(taken.status).toBe(409);
    expect(await taken.text()).toContain("already have a server named");
    const slug = `p-${crypto.randomUUID().slice(0, 8)}`;
    await addPreset(user, slug, "private");
    await attach(user, slug, "alpha");
    const confirm = await browser.get("/console/servers/alpha/delete");
    expect(confirm.status).toBe(200);
    expect(await confirm.text()).toContain("Delete server alpha?");
    const attached = await browser.post("/console/servers/alpha/delete", { csrf });
    expect(attached.status).toBe(409);
    expect(await attached.text()).toContain("detach it first");
    expect((await api("DELETE", `/presets/${slug}/servers/alpha`, { token: user.token })).status).toBe(204);
    const deleted = await browser.post("/console/servers/alpha/delete", { csrf });
    expect(deleted.status).toBe(303);
    expect((await api("GET", "/servers/alpha", { token: user.token })).status).toBe(404);
    expect(await eventsOf(user.id, "server.deleted")).toHaveLength(1);
  });

  it("shows another user's server to nobody else: 404 on its pages and POSTs", async () => {
    const owner = await createUser();
    await addServer(owner, "alpha", upstreamUrl("alpha"));
    const { browser } = await signedIn();
    expect((await browser.get("/console/servers/alpha")).status).toBe(404);
    expect((await browser.get("/console/servers/alpha/delete")).status).toBe(404);
    const csrf = await browser.csrf("/console/servers");
    expect((await browser.post("/console/servers/alpha/delete", { csrf })).status).toBe(404);
    expect((await api("GET", "/servers/alpha", { token: owner.token })).status).toBe(200);
    expect((await new ConsoleBrowser().get("/console/servers")).headers.get("location")).toBe("/console/signin");
  });
});

describe("console tokens pages", () => {
  it("shows a new token once, lists it without its secret, and revoking it makes the API answer 401", async () => {
    const { user, browser } = await signedIn();
    const csrf = await browser.csrf("/console/tokens");
    const created = await browser.post("/console/tokens", { csrf, name: "laptop", scope: "manage" });
    expect(created.status).toBe(200);
    const html = await created.text();
    const token = /id="new-token">([^<]+)</.exec(html)?.[1] ?? "";
    expect(token).toMatch(/^mcpg_/);
    expect(html).toContain(`data-copy="${token}"`);
    expect((await api("GET", "/presets", { token })).status).toBe(200);
    expect((await eventsOf(user.id, "token.created")).map((e) => e.target)).toContain("laptop");

    const list = await (await browser.get("/console/tokens")).text();
    expect(list).toContain("laptop");
    expect(list).not.toContain(token);
    const id = /href="\/console\/tokens\/([^/"]+)\/revoke" aria-label="Revoke laptop"/.exec(list)?.[1] ?? "";
    expect(id).not.toBe("");
    const confirm = await browser.get(`/console/tokens/${id}/revoke`);
    expect(await confirm.text()).toContain("Revoke token &#39;laptop&#39;?");
    expect((await api("GET", "/presets", { token })).status).toBe(200);
    const revoked = await browser.post(`/console/tokens/${id}/revoke`, { csrf });
    expect(revoked.status).toBe(303);
    expect((await api("GET", "/presets", { token })).status).toBe(401);
  });

  it("refuses an empty name inline and a stranger's token id with 404", async () => {
    const other = await createUser();
    const theirs = await api("GET", "/tokens", { token: other.token });
    const { browser } = await signedIn();
    const csrf = await browser.csrf("/console/tokens");
    const empty = await browser.post("/console/tokens", { csrf, name: " ", scope: "mcp" });
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain('id="name-error"');
    const id = theirs.body.tokens[0].id as string;
    expect((await browser.get(`/console/tokens/${id}/revoke`)).status).toBe(404);
    expect((await browser.post(`/console/tokens/${id}/revoke`, { csrf })).status).toBe(404);
    expect((await api("GET", "/tokens", { token: other.token })).status).toBe(200);
  });
});

describe("console management CSRF", () => {
  it("refuses each management POST without the session's CSRF token or from another origin, changing nothing", async () => {
    const { user, browser } = await signedIn();
    await addServer(user, "alpha", upstreamUrl("alpha"));
    const tokenId = (await api("GET", "/tokens", { token: user.token })).body.tokens[0].id as string;
    const csrf = await browser.csrf("/console/servers");
    const posts: [string, Record<string, string>][] = [
      ["/console/servers", { name: "beta", url: upstreamUrl("beta") }],
      ["/console/servers/alpha", { name: "renamed", url: upstreamUrl("alpha") }],
      ["/console/servers/alpha/delete", {}],
      ["/console/tokens", { name: "x", scope: "mcp" }],
      [`/console/tokens/${tokenId}/revoke`, {}],
    ];
    for (const [path, fields] of posts) {
      expect((await browser.post(path, fields)).status, `${path} without a token`).toBe(403);
      expect((await browser.post(path, { ...fields, csrf: "forged" })).status, `${path} with a forged token`).toBe(403);
      expect((await browser.post(path, { ...fields, csrf }, { origin: "https://evil.example" })).status, `${path} cross-origin`).toBe(403);
    }
    const servers = await api("GET", "/servers", { token: user.token });
    expect(servers.body.servers.map((s: { name: string }) => s.name)).toEqual(["alpha"]);
    expect((await api("GET", "/tokens", { token: user.token })).body.tokens).toHaveLength(1);
  });
});

describe("console preset settings pages", () => {
  async function withPreset(visibility = "private") {
    const s = await signedIn();
    const slug = `p-${crypto.randomUUID().slice(0, 8)}`;
    await addPreset(s.user, slug, visibility);
    return { ...s, slug };
  }

  it("edits the settings with an event naming only what changed, and re-renders refused values inline", async () => {
    const { user, browser, slug } = await withPreset();
    const page = await browser.get(`/console/presets/${slug}/settings`);
    expect(page.status).toBe(200);
    const csrf = await browser.csrf(`/console/presets/${slug}/settings`);
    const base = {
      csrf,
      name: slug,
      description: "",
      visibility: "private",
      status: "active",
      requests: "",
      windowSeconds: "",
      toolNaming: "prefixed",
      pinning: "on",
      newTools: "hold",
    };
    const saved = await browser.post(`/console/presets/${slug}/settings`, {
      ...base,
      name: "Renamed",
      visibility: "public",
      requests: "10",
      windowSeconds: "60",
    });
    expect(saved.status).toBe(303);
    const view = await api("GET", `/presets/${slug}`, { token: user.token });
    expect(view.body).toMatchObject({ name: "Renamed", visibility: "public", rateLimit: { requests: 10, windowSeconds: 60 } });
    const updated = await eventsOf(user.id, "preset.updated");
    expect(JSON.parse(updated.at(-1)?.payload ?? "{}").changed.sort()).toEqual(["name", "rateLimit", "visibility"]);
    const refused = await browser.post(`/console/presets/${slug}/settings`, {
      ...base,
      name: "Renamed",
      visibility: "public",
      requests: "0",
      windowSeconds: "60",
    });
    expect(refused.status).toBe(400);
    const html = await refused.text();
    expect(html).toContain('id="requests-error"');
    expect(html).toContain("must be at least 1");
    expect((await api("GET", `/presets/${slug}`, { token: user.token })).body.rateLimit.requests).toBe(10);
  });

  it("deletes a preset only after the confirmation step", async () => {
    const { user, browser, slug } = await withPreset();
    const confirm = await browser.get(`/console/presets/${slug}/delete`);
    expect(confirm.status).toBe(200);
    expect((await api("GET", `/presets/${slug}`, { token: user.token })).status).toBe(200);
    const csrf = csrfOf(await confirm.text());
    const res = await browser.post(`/console/presets/${slug}/delete`, { csrf });
    expect(res.status).toBe(303);
    expect((await api("GET", `/presets/${slug}`, { token: user.token })).status).toBe(404);
    expect(await eventsOf(user.id, "preset.deleted")).toHaveLength(1);
  });

  it("invites and removes a member with their audit events; an unknown handle is explained inline", async () => {
    const { user, browser, slug } = await withPreset("invite_only");
    const member = await createUser();
    const csrf = await browser.csrf(`/console/presets/${slug}/settings`);
    expect((await browser.post(`/console/presets/${slug}/members`, { csrf, handle: member.handle })).status).toBe(303);
    const members = await api("GET", `/presets/${slug}/members`, { token: user.token });
    expect(members.body.members.map((m: { handle: string }) => m.handle)).toEqual([member.handle]);
    expect((await eventsOf(user.id, "member.added")).map((e) => e.target)).toEqual([member.handle]);
    const again = await browser.post(`/console/presets/${slug}/members`, { csrf, handle: member.handle });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain("already a member");
    const unknown = await browser.post(`/console/presets/${slug}/members`, { csrf, handle: "no-such-user-xyz" });
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('id="handle-error"');
    expect((await browser.post(`/console/presets/${slug}/members/${member.handle}/remove`, { csrf })).status).toBe(303);
    expect((await api("GET", `/presets/${slug}/members`, { token: user.token })).body.members).toEqual([]);
    expect((await eventsOf(user.id, "member.removed")).map((e) => e.target)).toEqual([member.handle]);
  });

  it("answers 404 for another user's preset on every settings page and POST", async () => {
    const owner = await createUser();
    const slug = `p-${crypto.randomUUID().slice(0, 8)}`;
    await addPreset(owner, slug, "public");
    const { browser } = await signedIn();
    for (const path of ["settings", "delete", "export"]) expect((await browser.get(`/console/presets/${slug}/${path}`)).status, path).toBe(404);
    const csrf = await browser.csrf("/console");
    for (const path of ["settings", "delete", "members", "clone"])
      expect((await browser.post(`/console/presets/${slug}/${path}`, { csrf, handle: "x", slug: "y" })).status, path).toBe(404);
    expect((await api("GET", `/presets/${slug}`, { token: owner.token })).status).toBe(200);
  });

  it("clones, exports and imports through the console with the same results as the API", async () => {
    const { user, browser, slug } = await withPreset();
    await addServer(user, "alpha", upstreamUrl("alpha"));
    await attach(user, slug, "alpha", ["echo"]);
    const csrf = await browser.csrf(`/console/presets/${slug}/settings`);
    const cloned = await browser.post(`/console/presets/${slug}/clone`, { csrf, slug: `${slug}-copy` });
    expect(cloned.status).toBe(303);
    const viaApi = await api("POST", `/presets/${slug}/clone`, { token: user.token, body: { slug: `${slug}-api` } });
    expect(viaApi.status).toBe(201);
    const strip = (v: Record<string, unknown>) => ({
      ...v,
      slug: undefined,
      url: undefined,
      id: undefined,
      createdAt: undefined,
      updatedAt: undefined,
      servers: undefined,
    });
    const consoleCopy = (await api("GET", `/presets/${slug}-copy`, { token: user.token })).body;
    expect(strip(consoleCopy)).toEqual(strip(viaApi.body.preset));
    expect(consoleCopy.servers.map((s: { name: string; tools: unknown }) => [s.name, s.tools])).toEqual(
      viaApi.body.preset.servers.map((s: { name: string; tools: unknown }) => [s.name, s.tools]),
    );
    const taken = await browser.post(`/console/presets/${slug}/clone`, { csrf, slug: `${slug}-api` });
    expect(taken.status).toBe(409);
    expect(await taken.text()).toContain('id="clone-slug-error"');

    const exported = await browser.get(`/console/presets/${slug}/export`);
    expect(exported.headers.get("content-disposition")).toBe(`attachment; filename="${slug}.mcpgate.json"`);
    const doc = await exported.json<Record<string, unknown>>();
    const fromApi = (await api("GET", `/presets/${slug}/export`, { token: user.token })).body;
    expect({ ...doc, exportedAt: undefined }).toEqual({ ...fromApi, exportedAt: undefined });

    const imported = await browser.post("/console/import", { csrf, document: JSON.stringify(doc), slug: `${slug}-imp`, visibility: "private" });
    expect(imported.status).toBe(303);
    expect((await api("GET", `/presets/${slug}-imp`, { token: user.token })).body.servers.map((s: { name: string }) => s.name)).toEqual(["alpha"]);
    const bad = await browser.post("/console/import", { csrf, document: "{not json", slug: "", visibility: "private" });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('id="document-error"');
  });

  it("forks a public preset of another user through the console, and a stranger's private preset is 404", async () => {
    const a = await createUser();
    const pub = `pub-${crypto.randomUUID().slice(0, 8)}`;
    const priv = `priv-${crypto.randomUUID().slice(0, 8)}`;
    await addServer(a, "alpha", upstreamUrl("alpha"));
    await addPreset(a, pub, "public");
    await attach(a, pub, "alpha");
    await addPreset(a, priv, "private");
    const { user: b, browser } = await signedIn();
    const confirm = await browser.get(`/console/fork?from=${a.handle}/${pub}`);
    expect(confirm.status).toBe(200);
    const csrf = csrfOf(await confirm.text());
    const forked = await browser.post("/console/fork", { csrf, from: `${a.handle}/${pub}`, slug: "", visibility: "private" });
    expect(forked.status).toBe(303);
    const mine = await api("GET", `/presets/${pub}`, { token: b.token });
    expect(mine.status).toBe(200);
    expect(mine.body.forkedFrom).toBe(`${a.handle}/${pub}`);
    expect(mine.body.servers.map((s: { name: string }) => s.name)).toEqual(["alpha"]);
    const secret = await browser.post("/console/fork", { csrf, from: `${a.handle}/${priv}`, slug: "", visibility: "private" });
    expect(secret.status).toBe(404);
    expect((await api("GET", `/presets/${priv}`, { token: b.token })).status).toBe(404);
  });

  it("refuses each preset management POST without the CSRF token or from another origin", async () => {
    const { user, browser, slug } = await withPreset("invite_only");
    const member = await createUser();
    await api("POST", `/presets/${slug}/members`, { token: user.token, body: { handle: member.handle } });
    const csrf = await browser.csrf(`/console/presets/${slug}/settings`);
    const posts: [string, Record<string, string>][] = [
      [`/console/presets/${slug}/settings`, { name: "x" }],
      [`/console/presets/${slug}/delete`, {}],
      [`/console/presets/${slug}/members`, { handle: member.handle }],
      [`/console/presets/${slug}/members/${member.handle}/remove`, {}],
      [`/console/presets/${slug}/clone`, { slug: `${slug}-c` }],
      ["/console/import", { document: "{}" }],
      ["/console/fork", { from: `${user.handle}/${slug}` }],
    ];
    for (const [path, fields] of posts) {
      expect((await browser.post(path, fields)).status, path).toBe(403);
      expect((await browser.post(path, { ...fields, csrf }, { origin: "https://evil.example" })).status, path).toBe(403);
    }
    expect((await api("GET", `/presets/${slug}`, { token: user.token })).body.name).toBe(slug);
    expect((await api("GET", `/presets/${slug}/members`, { token: user.token })).body.members).toHaveLength(1);
  });
});

describe("console OAuth grants on a preset", () => {
  it("lists a member's grant on the settings page and revokes it, with the same effect as the API", async () => {
    const { user, browser } = await signedIn();
    const slug = `p-${crypto.randomUUID().slice(0, 8)}`;
    await addPreset(user, slug, "invite_only");
    const member = await createUser();
    await api("POST", `/presets/${slug}/members`, { token: user.token, body: { handle: member.handle } });
    const resource = presetUrl(user.handle, slug);
    const client = (await registerClient()).body;
    const { challenge } = await pkce();
    const back = await authorizeInBrowser(
      authorizeUrl({ client_id: client.client_id, redirect_uri: "http://localhost:7777/callback", code_challenge: challenge, state: "s", resource }),
      member.token,
    );
    expect(back.searchParams.get("code")).toBeTruthy();
    const page = await (await browser.get(`/console/presets/${slug}/settings`)).text();
    expect(page).toContain(member.handle);
    const id = /action="\/console\/presets\/[^/]+\/grants\/([^/"]+)\/revoke"/.exec(page)?.[1] ?? "";
    expect(id).not.toBe("");
    const res = await browser.post(`/console/presets/${slug}/grants/${id}/revoke`, { csrf: csrfOf(page) });
    expect(res.status).toBe(303);
    const grants = await api("GET", `/presets/${slug}/grants`, { token: user.token });
    expect(grants.body.grants[0]).toMatchObject({ id, revokedReason: "revoked_by_owner" });
    expect(grants.body.grants[0].revokedAt).not.toBeNull();
    expect((await browser.post(`/console/presets/${slug}/grants/${id}/revoke`, { csrf: csrfOf(page) }, { origin: "https://evil.example" })).status).toBe(403);
  });
});
