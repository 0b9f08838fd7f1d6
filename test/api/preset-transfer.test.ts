import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { addServer, api, attach, connectClient, createUser, givenPreset, presetUrl, type TestUser, unique, upstreamUrl } from "../helpers";
import { expectError, expectInvalid } from "./expect-error";

const SECRET = "Bearer s3cr3t-upstream-key-do-not-leak";

/** What a user has: server names and preset slugs, to show a refused request changed nothing. */
async function holdings(user: TestUser) {
  const servers = (await api("GET", "/servers", { token: user.token })).body.servers.map((s: { name: string }) => s.name);
  const presets = (await api("GET", "/presets", { token: user.token })).body.presets.map((p: { slug: string }) => p.slug);
  return { servers, presets };
}

const exportOf = async (user: TestUser, slug: string) => {
  const res = await api("GET", `/presets/${slug}/export`, { token: user.token });
  expect(res.status).toBe(200);
  return res.body;
};

/** A document as a person would write it, with the fields a test sets. */
function documentWith(servers: Record<string, unknown>[], preset: Record<string, unknown> = {}) {
  return { format: "mcpgate.preset", version: 1, preset: { slug: unique("doc"), name: "From a document", ...preset }, servers };
}

/** The parts of a preset view a copy must reproduce: settings and selections, not ids, owner or times. */
function settingsOf(view: any) {
  const { id: _id, slug: _slug, url: _url, owner: _owner, createdAt: _c, updatedAt: _u, forkedFrom: _f, servers, ...settings } = view;
  return {
    ...settings,
    servers: servers.map(({ serverId: _s, health: _h, ...selection }: any) => selection),
  };
}

describe("GET /presets/:slug/export", () => {
  it("exports settings, servers and selections as an mcpgate.preset document, with header names and never their values", async () => {
    const owner = await createUser();
    const { slug } = await givenPreset({
      owner,
      naming: "plain",
      auditCalls: true,
      rateLimit: { requests: 7, windowSeconds: 30 },
      servers: [{ name: "alpha", url: upstreamUrl("alpha"), headers: { Authorization: SECRET }, tools: ["echo", "add"], sessionScope: "shared" }],
    });
    await api("PATCH", "/servers/alpha", { token: owner.token, body: { headers: { Authorization: SECRET, "X-Api-Key": { perUser: true } } } });
    const res = await api("GET", `/presets/${slug}/export`, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      format: "mcpgate.preset",
      version: 1,
      exportedAt: expect.any(String),
      preset: { slug, visibility: "public", status: "active", toolNaming: "plain", auditCalls: true, rateLimit: { requests: 7, windowSeconds: 30 } },
      servers: [
        {
          name: "alpha",
          url: upstreamUrl("alpha"),
          auth: "owner",
          headers: [
            { name: "Authorization", perUser: false },
            { name: "X-Api-Key", perUser: true },
          ],
          enabled: true,
          tools: ["echo", "add"],
          sessionScope: "shared",
        },
      ],
    });
    const text = JSON.stringify(res.body);
    expect(text).not.toContain("s3cr3t");
    expect(text).not.toContain(owner.token);
    expect(text).not.toMatch(/srv_|prs_|members|pins/);
  });

  it("answers 404 to a stranger, who can neither export nor clone your preset", async () => {
    const { slug } = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    const stranger = await createUser();
    expectError(await api("GET", `/presets/${slug}/export`, { token: stranger.token }), 404, "not_found");
    expectError(await api("POST", `/presets/${slug}/clone`, { token: stranger.token, body: { slug: unique("c") } }), 404, "not_found");
    expect(await holdings(stranger)).toEqual({ servers: [], presets: [] });
  });
});

describe("POST /presets/import", () => {
  it("round-trips: an exported preset imported again has the same settings and selections", async () => {
    const owner = await createUser();
    const { slug } = await givenPreset({
      owner,
      visibility: "invite_only",
      description: "round trip",
      toolLimits: { alpha__echo: { requests: 3, windowSeconds: 60 } },
      auditCalls: true,
      auditArguments: true,
      pinning: "off",
      newTools: "expose",
      servers: [
        { name: "alpha", url: upstreamUrl("alpha"), tools: ["echo", "add"], prompts: [], overrides: { echo: { description: "Says it back" } } },
        { name: "beta", url: upstreamUrl("beta"), tools: null, enabled: false, sessionScope: "per-session" },
      ],
    });
    await api("PATCH", `/presets/${slug}`, { token: owner.token, body: { alerts: { errorRate: false } } });
    const document = await exportOf(owner, slug);
    const copy = unique("copy");
    const res = await api("POST", "/presets/import", { token: owner.token, body: { document, slug: copy, visibility: "invite_only" } });
    expect(res.status).toBe(201);
    expect(res.body.servers.map((s: any) => [s.name, s.status])).toEqual([
      ["alpha", "reused"],
      ["beta", "reused"],
    ]);
    const original = (await api("GET", `/presets/${slug}`, { token: owner.token })).body;
    expect(settingsOf(res.body.preset)).toEqual(settingsOf(original));
    const again = await exportOf(owner, copy);
    expect({ ...again, exportedAt: 0, preset: { ...again.preset, slug } }).toEqual({ ...document, exportedAt: 0 });
    expect((await holdings(owner)).servers).toEqual(["alpha", "beta"]);
  });

  it("reuses your server with the same URL whatever its name, creates a missing one without secrets, and frees a taken name", async () => {
    const user = await createUser();
    await addServer(user, "mine", upstreamUrl("alpha"));
    await addServer(user, "beta", upstreamUrl("conformance"));
    const document = documentWith(
      [
        { name: "alpha", url: upstreamUrl("alpha"), headers: [{ name: "Authorization", perUser: false }], tools: ["echo"] },
        {
          name: "beta",
          url: upstreamUrl("beta"),
          headers: [
            { name: "Authorization", perUser: false },
            { name: "X-Api-Key", perUser: true },
          ],
          tools: ["reverse"],
        },
        { name: "files", url: upstreamUrl("alpha_json"), auth: "oauth" },
      ],
      { visibility: "public" },
    );
    const res = await api("POST", "/presets/import", { token: user.token, body: { document } });
    expect(res.status).toBe(201);
    expect(res.body.servers).toEqual([
      expect.objectContaining({ name: "mine", documentName: "alpha", status: "reused", needsCredentials: true, missingHeaders: ["Authorization"] }),
      expect.objectContaining({
        name: "beta-2",
        documentName: "beta",
        status: "created",
        needsCredentials: true,
        missingHeaders: ["Authorization"],
        perUserHeaders: ["X-Api-Key"],
        reason: expect.stringContaining("'beta' is taken"),
      }),
      expect.objectContaining({ name: "files", status: "created", needsCredentials: false, auth: "oauth", reason: expect.stringContaining("connect") }),
    ]);
    // The document's visibility is not the importer's choice: an import is private unless its body says otherwise.
    expect(res.body.preset).toMatchObject({ slug: document.preset.slug, visibility: "private", forkedFrom: null });
    expect(res.body.preset.servers.map((s: any) => [s.name, s.tools])).toEqual([
      ["beta-2", ["reverse"]],
      ["files", null],
      ["mine", ["echo"]],
    ]);
    expect((await holdings(user)).servers).toEqual(["beta", "beta-2", "files", "mine"]);
    const created = (await api("GET", "/servers/beta-2", { token: user.token })).body;
    expect(created).toMatchObject({ url: upstreamUrl("beta"), headers: {}, userHeaders: ["X-Api-Key"], auth: "owner" });
    const events = (await api("GET", "/events?type=server.created,preset.created", { token: user.token })).body.events;
    expect(events.map((e: any) => [e.type, e.target, e.payload.imported])).toEqual(
      expect.arrayContaining([
        ["preset.created", document.preset.slug, true],
        ["server.created", "beta-2", true],
        ["server.created", "files", true],
      ]),
    );
  });

  it("frees a taken 32-character name by shortening it: <stem>-2, then <stem>-3", async () => {
    const user = await createUser();
    const long = "a-very-long-server-name-of-32-ch";
    expect(long).toHaveLength(32);
    await addServer(user, long, upstreamUrl("conformance"));
    await addServer(user, "a-very-long-server-name-of-32-2", upstreamUrl("alpha_json"));
    const document = documentWith([{ name: long, url: upstreamUrl("beta") }]);
    const res = await api("POST", "/presets/import", { token: user.token, body: { document } });
    expect(res.status).toBe(201);
    expect(res.body.servers[0]).toMatchObject({ name: "a-very-long-server-name-of-32-3", documentName: long, status: "created" });
  });

  it("serves the imported preset to a real MCP client with exactly the selected tools", async () => {
    const user = await createUser();
    const document = documentWith([{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo", "add"] }]);
    const res = await api("POST", "/presets/import", { token: user.token, body: { document } });
    expect(res.status).toBe(201);
    const client = await connectClient(presetUrl(user.handle, document.preset.slug), { token: user.token });
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(["alpha__add", "alpha__echo"]);
      const echo = await client.callTool({ name: "alpha__echo", arguments: { text: "imported" } });
      expect(echo.content).toEqual([{ type: "text", text: "imported" }]);
    } finally {
      await client.close();
    }
  });

  for (const url of ["http://169.254.169.254/latest/meta-data/", "https://10.0.0.7/mcp", "https://metadata.google.internal/mcp", "https://[fd00::1]/mcp"]) {
    it(`refuses a document with the upstream ${url} with 400 naming it, and creates nothing`, async () => {
      const user = await createUser();
      await addServer(user, "mine", upstreamUrl("alpha"));
      const before = await holdings(user);
      const document = documentWith([
        { name: "ok", url: upstreamUrl("beta") },
        { name: "evil", url },
      ]);
      expectInvalid(await api("POST", "/presets/import", { token: user.token, body: { document } }), "document.servers.1.url");
      expect(await holdings(user)).toEqual(before);
    });
  }

  it("refuses a bad field with 400 naming it inside the document, and creates nothing", async () => {
    const user = await createUser();
    const before = await holdings(user);
    const good = { name: "a", url: upstreamUrl("alpha") };
    const cases: [unknown, string][] = [
      [documentWith([good, { name: "b", url: upstreamUrl("beta") }, { name: "c", url: upstreamUrl("beta"), timeoutMs: 5 }]), "document.servers.2.timeoutMs"],
      [documentWith([good, { name: "Bad Name", url: upstreamUrl("beta") }]), "document.servers.1.name"],
      [documentWith([good, { name: "a", url: upstreamUrl("beta") }]), "document.servers.1.name"],
      [documentWith([good, { name: "b", url: upstreamUrl("alpha") }]), "document.servers.1.url"],
      [documentWith([{ ...good, headers: [{ name: "Authorization", perUser: false, value: "x" }] }]), "document.servers.0.headers.0.value"],
      [documentWith([good], { toolNaming: "sideways" }), "document.preset.toolNaming"],
      [{ ...documentWith([good]), version: 2 }, "document.version"],
      [documentWith(Array.from({ length: 51 }, (_, i) => ({ name: `s${i}`, url: upstreamUrl("alpha") }))), "document.servers"],
    ];
    for (const [document, field] of cases) {
      const res = await api("POST", "/presets/import", { token: user.token, body: { document } });
      expect({ status: res.status, field: res.body.error?.field }).toEqual({ status: 400, field });
    }
    expect(await holdings(user)).toEqual(before);
  });

  it("refuses a slug you already use with 409, and creates none of the document's servers", async () => {
    const user = await createUser();
    const { slug } = await givenPreset({ owner: user });
    const before = await holdings(user);
    const document = documentWith([{ name: "fresh", url: upstreamUrl("beta") }], { slug });
    expectError(await api("POST", "/presets/import", { token: user.token, body: { document } }), 409, "conflict");
    expect(await holdings(user)).toEqual(before);
  });

  it("refuses a document whose plain tool names clash with 409 before writing anything", async () => {
    const user = await createUser();
    const before = await holdings(user);
    const document = documentWith(
      [
        { name: "alpha", url: upstreamUrl("alpha"), tools: ["shared"] },
        { name: "beta", url: upstreamUrl("beta"), tools: ["shared"] },
      ],
      { toolNaming: "plain" },
    );
    const res = await api("POST", "/presets/import", { token: user.token, body: { document } });
    expectError(res, 409, "conflict");
    expect(res.body.error.message).toContain("'shared'");
    expect(await holdings(user)).toEqual(before);
  });
});

describe("POST /presets/:slug/clone", () => {
  it("copies a preset under a new slug on the same servers, without its members", async () => {
    const owner = await createUser();
    const member = await createUser();
    const { slug } = await givenPreset({
      owner,
      visibility: "invite_only",
      members: [member],
      servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }],
    });
    const copy = unique("clone");
    const res = await api("POST", `/presets/${slug}/clone`, { token: owner.token, body: { slug: copy, name: "The copy" } });
    expect(res.status).toBe(201);
    expect(res.body.preset).toMatchObject({ slug: copy, name: "The copy", visibility: "invite_only" });
    const original = (await api("GET", `/presets/${slug}`, { token: owner.token })).body;
    expect(settingsOf({ ...res.body.preset, name: original.name })).toEqual(settingsOf(original));
    expect(res.body.preset.servers[0].serverId).toBe(original.servers[0].serverId);
    expect(res.body.servers).toEqual([expect.objectContaining({ name: "alpha", status: "reused", needsCredentials: false })]);
    expect((await api("GET", `/presets/${copy}/members`, { token: owner.token })).body.members).toEqual([]);
    expect((await holdings(owner)).servers).toEqual(["alpha"]);
  });

  it("refuses a slug you already use with 409", async () => {
    const owner = await createUser();
    const { slug } = await givenPreset({ owner });
    const { slug: other } = await givenPreset({ owner });
    expectError(await api("POST", `/presets/${slug}/clone`, { token: owner.token, body: { slug: other } }), 409, "conflict");
    expectError(await api("POST", `/presets/${slug}/clone`, { token: owner.token, body: { slug } }), 409, "conflict");
  });
});

describe("POST /presets/fork", () => {
  it("copies another user's public preset into your account without its secrets, and stays independent of the original", async () => {
    const alice = await createUser();
    const { slug } = await givenPreset({
      owner: alice,
      servers: [{ name: "alpha", url: upstreamUrl("alpha"), headers: { Authorization: SECRET }, tools: ["echo", "add"] }],
    });
    const bob = await createUser();
    const fork = unique("fork");
    const res = await api("POST", "/presets/fork", { token: bob.token, body: { from: `${alice.handle}/${slug}`, slug: fork } });
    expect(res.status).toBe(201);
    expect(res.body.preset).toMatchObject({ slug: fork, owner: bob.handle, visibility: "private", forkedFrom: `${alice.handle}/${slug}` });
    expect(res.body.servers).toEqual([
      expect.objectContaining({ name: "alpha", status: "created", needsCredentials: true, missingHeaders: ["Authorization"] }),
    ]);
    expect(JSON.stringify(res.body)).not.toContain("s3cr3t");
    const bobServer = (await api("GET", "/servers/alpha", { token: bob.token })).body;
    expect(bobServer.headers).toEqual({});
    const created = await env.DB.prepare("SELECT headers_enc FROM servers WHERE id = ?").bind(bobServer.id).first<{ headers_enc: string | null }>();
    expect(created?.headers_enc).toBeNull();

    await attach(alice, slug, "alpha", ["echo"]);
    await api("PATCH", `/presets/${slug}`, { token: alice.token, body: { name: "Renamed" } });
    const forked = (await api("GET", `/presets/${fork}`, { token: bob.token })).body;
    expect(forked.servers.map((s: any) => s.tools)).toEqual([["echo", "add"]]);
    expect(forked.name).toBe(slug);

    const events = (await api("GET", `/presets/${fork}/events?type=preset.created`, { token: bob.token })).body.events;
    expect(events[0].payload).toMatchObject({ forkedFrom: `${alice.handle}/${slug}` });
  });

  it("answers 404 for private, invite-only, disabled and missing presets, as if they did not exist", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const { slug: privateSlug } = await givenPreset({ owner: alice, visibility: "private" });
    const { slug: inviteSlug } = await givenPreset({ owner: alice, visibility: "invite_only", members: [bob] });
    const { slug: disabledSlug } = await givenPreset({ owner: alice });
    await api("PATCH", `/presets/${disabledSlug}`, { token: alice.token, body: { status: "disabled" } });
    for (const from of [
      `${alice.handle}/${privateSlug}`,
      `${alice.handle}/${inviteSlug}`,
      `${alice.handle}/${disabledSlug}`,
      `${alice.handle}/nope`,
      "nobody-here/x-y",
    ]) {
      const res = await api("POST", "/presets/fork", { token: bob.token, body: { from, slug: unique("f") } });
      expectError(res, 404, "not_found");
      expect(res.body.error.message).toBe(`Public preset '${from}' not found.`);
    }
    expect(await holdings(bob)).toEqual({ servers: [], presets: [] });
  });

  it("forks your own preset as a clone: same servers, no new ones", async () => {
    const owner = await createUser();
    const { slug } = await givenPreset({ owner, visibility: "private", servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    const res = await api("POST", "/presets/fork", { token: owner.token, body: { from: `${owner.handle}/${slug}`, slug: unique("own") } });
    expect(res.status).toBe(201);
    expect(res.body.servers).toEqual([expect.objectContaining({ name: "alpha", status: "reused" })]);
    expect(res.body.preset.forkedFrom).toBeNull();
    expect((await holdings(owner)).servers).toEqual(["alpha"]);
  });
});
