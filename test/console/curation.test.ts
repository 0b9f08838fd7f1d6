import { describe, expect, it } from "vitest";
import { curationFromForm } from "../../src/console/curation";
import { addPreset, addServer, api, createUser, type TestUser, unique, upstreamUrl } from "../helpers";
import { ConsoleBrowser, csrfOf } from "./console-helpers";

async function signedIn() {
  const user = await createUser();
  const browser = new ConsoleBrowser();
  expect((await browser.signIn(user)).status).toBe(303);
  return { user, browser };
}

async function toolsChanged(user: TestUser, slug: string) {
  const res = await api("GET", `/presets/${slug}/events`, { token: user.token });
  return (res.body.events as { type: string; payload: any }[]).filter((e) => e.type === "tools.changed");
}

describe("console curation", () => {
  it("attaches a server from the preset page and lists its live tools with exposed names and annotation badges", async () => {
    const { user, browser } = await signedIn();
    await addServer(user, "alpha", upstreamUrl("alpha"));
    await addPreset(user, "cur-a", "private");
    const page = await (await browser.get("/console/presets/cur-a")).text();
    expect(page).toContain('<option value="alpha">alpha</option>');
    const attach = await browser.post("/console/presets/cur-a/servers", { csrf: csrfOf(page), server: "alpha" });
    expect(attach.status).toBe(303);
    expect(attach.headers.get("location")).toBe("/console/presets/cur-a/servers/alpha");
    const res = await browser.get("/console/presets/cur-a/servers/alpha");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<code class="exposed">alpha__echo</code>');
    expect(html).toContain('<code class="exposed">alpha__annotated</code>');
    expect(html).toMatch(/data-name="annotated"[\s\S]*?<ul class="badges" aria-label="Annotations"><li class="badge read-only">read-only<\/li><\/ul>/);
    // openWorldHint: false is no badge; tools without annotations have none.
    expect(html).not.toContain("badge open-world");
    expect(html.match(/aria-label="Annotations"/g)).toHaveLength(1);
    expect(html).toContain('name="all" checked=""');
    expect(html).toContain("<legend>");
    expect((await browser.get("/console/presets/cur-a")).status).toBe(200);
  });

  it("saves selection and overrides in one POST exactly as the API's PUT would, with a tools.changed event", async () => {
    const { user, browser } = await signedIn();
    await addServer(user, "alpha", upstreamUrl("alpha"));
    await addPreset(user, "cur-b", "private");
    await api("PUT", "/presets/cur-b/servers/alpha", { token: user.token, body: {} });
    const csrf = csrfOf(await (await browser.get("/console/presets/cur-b/servers/alpha")).text());
    const res = await browser.post("/console/presets/cur-b/servers/alpha", {
      csrf,
      "sel:echo": "on",
      "sel:add": "on",
      "rn:echo": "say",
      "rn:add": "",
      "ds:add": "Adds two numbers",
      "ds:echo": "",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console/presets/cur-b/servers/alpha?saved=1");
    const view = await api("GET", "/presets/cur-b", { token: user.token });
    const server = view.body.servers.find((s: { name: string }) => s.name === "alpha");
    expect(server.tools).toEqual(["echo", "add"]);
    expect(server.overrides).toEqual({ echo: { name: "say" }, add: { description: "Adds two numbers" } });
    const events = await toolsChanged(user, "cur-b");
    expect(events).toHaveLength(1);
    expect(events[0]!.payload.after).toMatchObject({ tools: ["echo", "add"], overrides: { echo: { name: "say" } } });
    const after = await (await browser.get("/console/presets/cur-b/servers/alpha?saved=1")).text();
    expect(after).toContain('<code class="exposed">say</code>');
    expect(after).toContain("Saved.");

    // Saving the same thing again changes nothing and writes no event; "all" goes back to null.
    await browser.post("/console/presets/cur-b/servers/alpha", { csrf, "sel:echo": "on", "sel:add": "on", "rn:echo": "say", "ds:add": "Adds two numbers" });
    expect(await toolsChanged(user, "cur-b")).toHaveLength(1);
    await browser.post("/console/presets/cur-b/servers/alpha", { csrf, all: "on" });
    const all = await api("GET", "/presets/cur-b", { token: user.token });
    expect(all.body.servers[0].tools).toBeNull();
    expect(all.body.servers[0].overrides).toEqual({});
  });

  it("refuses a save that would clash (409, the clash named next to the row) and changes nothing", async () => {
    const { user, browser } = await signedIn();
    await addServer(user, "alpha", upstreamUrl("alpha"));
    await addServer(user, "beta", upstreamUrl("beta"));
    await addPreset(user, "cur-c", "private", { toolNaming: "plain" });
    expect((await api("PUT", "/presets/cur-c/servers/alpha", { token: user.token, body: { tools: ["echo", "add"] } })).status).toBe(201);
    expect((await api("PUT", "/presets/cur-c/servers/beta", { token: user.token, body: { tools: ["reverse"] } })).status).toBe(201);
    const before = (await api("GET", "/presets/cur-c", { token: user.token })).body;
    const csrf = csrfOf(await (await browser.get("/console/presets/cur-c/servers/alpha")).text());
    const res = await browser.post("/console/presets/cur-c/servers/alpha", { csrf, "sel:echo": "on", "rn:echo": "reverse" });
    expect(res.status).toBe(409);
    const html = await res.text();
    expect(html).toContain("Nothing was saved.");
    expect(html).toMatch(/data-name="echo"[\s\S]*?Name clash: &#39;reverse&#39; is also exposed by alpha, beta\./);
    expect(html).toContain('value="reverse"');
    expect((await api("GET", "/presets/cur-c", { token: user.token })).body.servers).toEqual(before.servers);
    expect(await toolsChanged(user, "cur-c")).toHaveLength(0);

    // An invalid rename is a 400 next to its row, nothing saved.
    const bad = await browser.post("/console/presets/cur-c/servers/alpha", { csrf, "sel:echo": "on", "rn:echo": "no spaces" });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/data-name="echo"[\s\S]*?class="field-error"/);
  });

  it("refuses a save without the session's CSRF token or from another origin", async () => {
    const { user, browser } = await signedIn();
    await addServer(user, "alpha", upstreamUrl("alpha"));
    await addPreset(user, "cur-d", "private");
    await api("PUT", "/presets/cur-d/servers/alpha", { token: user.token, body: {} });
    const csrf = await browser.csrf("/console/presets/cur-d/servers/alpha");
    expect((await browser.post("/console/presets/cur-d/servers/alpha", { csrf: "wrong", "sel:echo": "on" })).status).toBe(403);
    expect((await browser.post("/console/presets/cur-d/servers/alpha", { csrf, "sel:echo": "on" }, { origin: "https://evil.example" })).status).toBe(403);
    expect((await browser.post("/console/presets/cur-d/servers/alpha/detach", { csrf: "wrong" })).status).toBe(403);
    expect((await api("GET", "/presets/cur-d", { token: user.token })).body.servers[0].tools).toBeNull();
  });

  it("detaches after a confirmation step", async () => {
    const { user, browser } = await signedIn();
    await addServer(user, "alpha", upstreamUrl("alpha"));
    await addPreset(user, "cur-e", "private");
    await api("PUT", "/presets/cur-e/servers/alpha", { token: user.token, body: {} });
    const confirm = await browser.get("/console/presets/cur-e/servers/alpha/detach");
    expect(confirm.status).toBe(200);
    const csrf = csrfOf(await confirm.text());
    expect((await api("GET", "/presets/cur-e", { token: user.token })).body.servers).toHaveLength(1);
    const res = await browser.post("/console/presets/cur-e/servers/alpha/detach", { csrf });
    expect(res.status).toBe(303);
    expect((await api("GET", "/presets/cur-e", { token: user.token })).body.servers).toHaveLength(0);
  });

  it("shows another user's preset as 404 and cannot attach a server the user does not own", async () => {
    const { user, browser } = await signedIn();
    const other = await createUser();
    const slug = unique("o").slice(0, 30);
    await addServer(other, "theirs", upstreamUrl("alpha"));
    await addPreset(other, slug, "public");
    await api("PUT", `/presets/${slug}/servers/theirs`, { token: other.token, body: {} });
    expect((await browser.get(`/console/presets/${slug}/servers/theirs`)).status).toBe(404);
    const csrf = await browser.csrf();
    expect((await browser.post(`/console/presets/${slug}/servers/theirs`, { csrf, "sel:echo": "on" })).status).toBe(404);
    await addPreset(user, "cur-f", "private");
    expect((await browser.post("/console/presets/cur-f/servers", { csrf, server: "theirs" })).status).toBe(404);
    expect((await api("GET", "/presets/cur-f", { token: user.token })).body.servers).toHaveLength(0);
    expect((await api("GET", `/presets/${slug}`, { token: other.token })).body.servers[0].tools).toBeNull();
  });

  it("says clearly when the upstream cannot be listed", async () => {
    const { user, browser } = await signedIn();
    await addServer(user, "down", upstreamUrl("error500"));
    await addPreset(user, "cur-g", "private");
    await api("PUT", "/presets/cur-g/servers/down", { token: user.token, body: {} });
    const res = await browser.get("/console/presets/cur-g/servers/down");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("The upstream cannot be listed right now");
    expect(html).not.toContain('id="curation"');
  });

  it("keeps the selection and overrides of tools the upstream does not list now (they were not on the page)", () => {
    const current = { tools: ["gone", "a"], overrides: { gone: { name: "old" }, a: { name: "x" } } };
    expect(curationFromForm({ "sel:b": "on", "rn:b": " bee ", "rn:a": "", "ds:a": " " }, ["a", "b"], current)).toEqual({
      tools: ["b", "gone"],
      overrides: { gone: { name: "old" }, b: { name: "bee" } },
    });
    expect(curationFromForm({ all: "on" }, ["a"], { tools: ["a"], overrides: null })).toEqual({ tools: null, overrides: null });
    expect(curationFromForm({}, ["a"], { tools: null, overrides: {} })).toEqual({ tools: [], overrides: {} });
  });
});
