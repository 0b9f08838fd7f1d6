import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { addPreset, addServer, api, attach, createUser, type TestUser, upstreamUrl } from "../helpers";
import { ConsoleBrowser, postMultipart } from "./console-helpers";

async function signedIn(): Promise<{ user: TestUser; browser: ConsoleBrowser }> {
  const user = await createUser();
  const browser = new ConsoleBrowser();
  expect((await browser.signIn(user)).status).toBe(303);
  return { user, browser };
}

const slugOf = () => `p-${crypto.randomUUID().slice(0, 8)}`;
const SECRET = "Bearer s3cr3t-public-page-never-rendered";

describe("console public preset page", () => {
  async function published(visibility = "public", status = "active") {
    const owner = await createUser();
    const slug = slugOf();
    await addServer(owner, "alpha", upstreamUrl("alpha"), { headers: { Authorization: SECRET } });
    await addPreset(owner, slug, visibility, { description: "Echo and add, nothing else." });
    await attach(owner, slug, "alpha", ["echo", "add"]);
    if (status !== "active") expect((await api("PATCH", `/presets/${slug}`, { token: owner.token, body: { status } })).status).toBe(200);
    return { owner, slug };
  }

  it("shows another user's public, active preset: owner, URL, servers by name and selected tools, a fork link; no server URL or header", async () => {
    const { owner, slug } = await published();
    const { browser } = await signedIn();
    const res = await browser.get(`/console/p/${owner.handle}/${slug}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("Echo and add, nothing else.");
    expect(html).toContain(`/mcp/${owner.handle}/${slug}`);
    expect(html).toContain("<h3>alpha</h3>");
    expect(html).toContain("<code>alpha__add</code>");
    expect(html).toContain("<code>alpha__echo</code>");
    expect(html).not.toContain("alpha__secret");
    expect(html).toContain(`href="/console/fork?from=${encodeURIComponent(`${owner.handle}/${slug}`)}"`);
    expect(html).not.toContain(upstreamUrl("alpha"));
    expect(html).not.toContain(env.UPSTREAM_BASE);
    expect(html).not.toContain("s3cr3t");
  });

  it("answers the same 404 page for private, invite-only, disabled and nonexistent presets", async () => {
    const { browser } = await signedIn();
    const bodies: string[] = [];
    for (const [visibility, status] of [
      ["private", "active"],
      ["invite_only", "active"],
      ["public", "disabled"],
    ] as const) {
      const { owner, slug } = await published(visibility, status);
      const res = await browser.get(`/console/p/${owner.handle}/${slug}`);
      expect(res.status, `${visibility} ${status}`).toBe(404);
      bodies.push(await res.text());
    }
    const missing = await browser.get("/console/p/nobody-at-all/nothing-here");
    expect(missing.status).toBe(404);
    bodies.push(await missing.text());
    expect(new Set(bodies).size).toBe(1);
  });

  it("links the owner's preset page to its public page only while public and active", async () => {
    const { user, browser } = await signedIn();
    const slug = slugOf();
    await addPreset(user, slug, "public");
    expect(await (await browser.get(`/console/presets/${slug}`)).text()).toContain(`href="/console/p/${user.handle}/${slug}"`);
    await api("PATCH", `/presets/${slug}`, { token: user.token, body: { visibility: "private" } });
    expect(await (await browser.get(`/console/presets/${slug}`)).text()).not.toContain("/console/p/");
  });

  it("sends a visitor without a console session to the sign-in page", async () => {
    const { owner, slug } = await published();
    const res = await new ConsoleBrowser().get(`/console/p/${owner.handle}/${slug}`);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console/signin");
  });
});

describe("console import by file upload", () => {
  async function exported(): Promise<{ user: TestUser; browser: ConsoleBrowser; doc: string }> {
    const s = await signedIn();
    const slug = slugOf();
    await addServer(s.user, "alpha", upstreamUrl("alpha"));
    await addPreset(s.user, slug, "private");
    await attach(s.user, slug, "alpha", ["echo"]);
    const doc = await (await s.browser.get(`/console/presets/${slug}/export`)).text();
    return { ...s, doc };
  }
  const upload = (csrf: string | undefined, file: File, slug: string) => {
    const form = new FormData();
    if (csrf !== undefined) form.set("csrf", csrf);
    form.set("document", "");
    form.set("file", file);
    form.set("slug", slug);
    form.set("visibility", "private");
    return form;
  };
  const presetCount = async (user: TestUser) => (await api("GET", "/presets", { token: user.token })).body.presets.length;

  it("creates a preset from an uploaded .json file", async () => {
    const { user, browser, doc } = await exported();
    const csrf = await browser.csrf("/console/import");
    const slug = slugOf();
    const res = await postMultipart(browser, "/console/import", upload(csrf, new File([doc], "preset.json", { type: "application/json" }), slug));
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/console/presets/${slug}?created=1`);
    const view = await api("GET", `/presets/${slug}`, { token: user.token });
    expect(view.body.servers.map((s: { name: string; tools: string[] }) => [s.name, s.tools])).toEqual([["alpha", ["echo"]]]);
  });

  it("refuses an oversized upload with 413 and creates nothing", async () => {
    const { user, browser } = await exported();
    const csrf = await browser.csrf("/console/import");
    const before = await presetCount(user);
    const big = new File([`{"pad":"${"x".repeat(300 * 1024)}"}`], "big.json", { type: "application/json" });
    const res = await postMultipart(browser, "/console/import", upload(csrf, big, slugOf()));
    expect(res.status).toBe(413);
    expect(await res.text()).toContain("too large");
    expect(await presetCount(user)).toBe(before);
  });

  it("refuses an upload without the CSRF field with 403", async () => {
    const { user, browser, doc } = await exported();
    const before = await presetCount(user);
    const res = await postMultipart(browser, "/console/import", upload(undefined, new File([doc], "preset.json"), slugOf()));
    expect(res.status).toBe(403);
    expect(await presetCount(user)).toBe(before);
  });

  it("refuses a file that is not JSON with 400 naming the file", async () => {
    const { user, browser } = await exported();
    const csrf = await browser.csrf("/console/import");
    const before = await presetCount(user);
    const res = await postMultipart(browser, "/console/import", upload(csrf, new File(["name: not json"], "preset.yaml"), slugOf()));
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('id="file-error"');
    expect(html).toContain("&#39;preset.yaml&#39; is not a JSON document");
    expect(await presetCount(user)).toBe(before);
  });

  it("accepts multipart only on the import form", async () => {
    const { browser } = await signedIn();
    const csrf = await browser.csrf("/console/presets/new");
    const form = new FormData();
    form.set("csrf", csrf);
    form.set("slug", slugOf());
    form.set("name", "x");
    form.set("visibility", "private");
    expect((await postMultipart(browser, "/console/presets", form)).status).toBe(403);
  });
});

describe("console settings: call log", () => {
  it("turns auditCalls and auditArguments on and off through the settings form, like PATCH /presets/:slug", async () => {
    const { user, browser } = await signedIn();
    const slug = slugOf();
    await addPreset(user, slug, "private");
    const page = await (await browser.get(`/console/presets/${slug}/settings`)).text();
    expect(page).toContain('id="auditCalls"');
    const csrf = await browser.csrf(`/console/presets/${slug}/settings`);
    const base = { csrf, name: slug, description: "", visibility: "private", status: "active", requests: "", windowSeconds: "" };
    const fields = { ...base, toolNaming: "prefixed", pinning: "on", newTools: "hold", audit: "1" };
    expect((await browser.post(`/console/presets/${slug}/settings`, { ...fields, auditCalls: "on", auditArguments: "on" })).status).toBe(303);
    expect((await api("GET", `/presets/${slug}`, { token: user.token })).body).toMatchObject({ auditCalls: true, auditArguments: true });
    const calls = await (await browser.get(`/console/presets/${slug}/calls`)).text();
    expect(calls).not.toContain('id="calls-off"');
    expect((await browser.post(`/console/presets/${slug}/settings`, fields)).status).toBe(303);
    expect((await api("GET", `/presets/${slug}`, { token: user.token })).body).toMatchObject({ auditCalls: false, auditArguments: false });
    const off = await (await browser.get(`/console/presets/${slug}/calls`)).text();
    expect(off).toContain(`href="/console/presets/${slug}/settings#auditCalls"`);
  });

  it("leaves the call log settings alone when a form without the checkboxes is posted", async () => {
    const { user, browser } = await signedIn();
    const slug = slugOf();
    await addPreset(user, slug, "private", { auditCalls: true });
    const csrf = await browser.csrf(`/console/presets/${slug}/settings`);
    const fields = { csrf, name: "Renamed", description: "", visibility: "private", status: "active", requests: "", windowSeconds: "" };
    const noBoxes = { ...fields, toolNaming: "prefixed", pinning: "on", newTools: "hold" };
    expect((await browser.post(`/console/presets/${slug}/settings`, noBoxes)).status).toBe(303);
    expect((await api("GET", `/presets/${slug}`, { token: user.token })).body).toMatchObject({ name: "Renamed", auditCalls: true });
  });
});
