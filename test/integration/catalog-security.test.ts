import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { presetStub } from "../../src/edge/preset-stub";
import { ToolStore } from "../../src/upstream/tool-store";
import { api, EVENTUALLY, type GivenPreset, givenPreset, unique, upstreamStats, upstreamUrl } from "../helpers";
import { openSession, rpc } from "../mcp-raw";

/** A preset's audit events of one type, oldest first. */
async function eventsOf(p: GivenPreset, type: string): Promise<{ type: string; target: string; payload: Record<string, any> }[]> {
  const res = await api("GET", `/presets/${p.slug}/events?type=${type}&limit=100`, { token: p.owner.token });
  expect(res.status).toBe(200);
  return [...res.body.events].reverse();
}

/**
 * Attacks on what a preset exposes (issue 12): resource template escapes, tool shadowing under
 * plain naming, upstream names no client accepts, and a catalog too big for one storage row.
 */

describe("resource template selection", () => {
  const ESCAPES = [
    "file:///docs/..",
    "file:///docs/.",
    "file:///docs/..%2F..%2Fetc%2Fpasswd",
    "file:///docs/..%2f..%2fetc%2fpasswd",
    "file:///docs/%2e%2e%2F%2e%2e%2Fetc%2Fpasswd",
    "file:///docs/..%252F..%252Fetc%252Fpasswd",
    "file:///docs/a%5C..%5Csecret",
    "file:///docs/a\\..\\secret",
    "file:///docs/a%00.md",
    "file:///docs/%2e%2e",
  ];

  for (const naming of ["plain", "prefixed"] as const) {
    it(`refuses template values that climb out of a selected file:///docs/{name} with invalid params, never asking the upstream (${naming})`, async () => {
      const scope = unique("docs");
      const p = await givenPreset({ naming, servers: [{ name: "docs", url: upstreamUrl("docs", scope), tools: null, resources: ["file:///docs/{name}"] }] });
      const session = await openSession(p.url);
      const exposed = (uri: string) => (naming === "plain" ? uri : `mcpgate://docs/${uri}`);
      const ok = await rpc(session, 1, "resources/read", { uri: exposed("file:///docs/readme.md") });
      expect(ok.result.contents[0].text).toBe("read file:///docs/readme.md");
      let id = 2;
      for (const uri of ESCAPES) {
        const answer = await rpc(session, id++, "resources/read", { uri: exposed(uri) });
        expect(answer.error, uri).toMatchObject({ code: -32602 });
        expect(answer.error.message).toMatch(/params\.uri .*template/);
      }
      const subscribe = await rpc(session, id++, "resources/subscribe", { uri: exposed("file:///docs/..%2Fsecret") });
      expect(subscribe.error).toMatchObject({ code: -32602 });
      // Only the one good read reached the upstream.
      expect((await upstreamStats("docs", scope)).requests["resources/read"]).toBe(1);
    });
  }
});

describe("upstream names no client accepts", () => {
  const BAD_TOOLS = ["bad name!\n<script>", "\u202Egnp.exe", "x".repeat(306), ""];

  it("drops tools and prompts with invalid exposed names, refuses calls to them, and audits each once", async () => {
    const p = await givenPreset({ servers: [{ name: "evil", url: upstreamUrl("evil", unique("evil")), tools: null, prompts: null }] });
    const session = await openSession(p.url);
    const listed = await rpc(session, 1, "tools/list");
    expect(listed.result.tools.map((t: { name: string }) => t.name)).toEqual(["evil__fine"]);
    let id = 2;
    for (const bad of BAD_TOOLS) {
      const call = await rpc(session, id++, "tools/call", { name: `evil__${bad}`, arguments: {} });
      expect(call.error, JSON.stringify(bad)).toMatchObject({ code: -32602, message: expect.stringMatching(/^Unknown tool/) });
    }
    expect((await rpc(session, id++, "tools/call", { name: "evil__fine", arguments: {} })).result.content[0].text).toBe("evil ran fine");
    const prompts = await rpc(session, id++, "prompts/list");
    expect(prompts.result.prompts.map((x: { name: string }) => x.name)).toEqual(["evil__fine.prompt"]);
    expect((await rpc(session, id++, "prompts/get", { name: "evil__bad prompt!\n<b>" })).error).toMatchObject({ code: -32602 });
    // Listing again audits nothing new.
    await rpc(session, id++, "tools/list");
    await rpc(session, id++, "prompts/list");
    await vi.waitFor(async () => {
      expect(await eventsOf(p, "tool.refused")).toHaveLength(4);
      expect(await eventsOf(p, "prompt.refused")).toHaveLength(3);
    }, EVENTUALLY);
    const refused = await eventsOf(p, "tool.refused");
    expect(refused.every((e) => e.target === "evil" && e.payload.server === "evil")).toBe(true);
    expect(refused.map((e) => e.payload.name).sort()).toEqual(
      ["evil__", "evil__\u202Egnp.exe", `evil__${"x".repeat(194)}`, "evil__bad name!\n<script>"].sort(),
    );
    expect(refused.find((e) => e.payload.nameLength)?.payload.nameLength).toBe(312);
  });

  it("drops the empty and invalid names under plain naming too", async () => {
    const p = await givenPreset({ naming: "plain", servers: [{ name: "evil", url: upstreamUrl("evil", unique("evil")), tools: null }] });
    const session = await openSession(p.url);
    expect((await rpc(session, 1, "tools/list")).result.tools.map((t: { name: string }) => t.name)).toEqual(["fine"]);
    expect((await rpc(session, 2, "tools/call", { name: "", arguments: {} })).error).toMatchObject({ code: -32602 });
  });

  it("refuses an override name with a dot, naming the field", async () => {
    const p = await givenPreset({ servers: [{ name: "evil", url: upstreamUrl("evil"), attach: false }] });
    const res = await api("PUT", `/presets/${p.slug}/servers/evil`, { token: p.owner.token, body: { overrides: { fine: { name: "fine.tool" } } } });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe("overrides.fine.name");
  });
});

describe("tool shadowing with plain naming", () => {
  for (const [label, zzzTools] of [
    ["zzz selects transfer_funds explicitly", ["transfer_funds"]],
    ["both servers select all tools", null],
  ] as const) {
    it(`keeps a name with the server it was approved for when another upstream starts offering it (${label})`, async () => {
      const scope = unique("shadow");
      const p = await givenPreset({
        naming: "plain",
        // New tools are exposed as they come, so the newcomer reaches the catalog and must be shadowed there.
        newTools: "expose",
        servers: [
          { name: "aaa", url: upstreamUrl("beta", scope), tools: null },
          { name: "zzz", url: upstreamUrl("bank", scope), tools: zzzTools ? [...zzzTools] : null },
        ],
      });
      const session = await openSession(p.url);
      const names = async (id: number) => (await rpc(session, id, "tools/list")).result.tools.map((t: { name: string }) => t.name).sort();
      expect(await names(1)).toEqual(["grow", "reverse", "shared", "transfer_funds"]);
      expect((await rpc(session, 2, "tools/call", { name: "transfer_funds", arguments: {} })).result.content[0].text).toBe("bank transferred");

      // aaa adds its own transfer_funds and says its tools changed; the gateway lists aaa again.
      const listsBefore = (await upstreamStats("beta", scope)).requests["tools/list"] ?? 0;
      expect((await rpc(session, 3, "tools/call", { name: "grow", arguments: { name: "transfer_funds" } })).result.content[0].text).toBe("grew transfer_funds");
      await vi.waitFor(async () => expect((await upstreamStats("beta", scope)).requests["tools/list"]).toBeGreaterThan(listsBefore), EVENTUALLY);

      let id = 4;
      for (let i = 0; i < 3; i++) {
        expect(await names(id++)).toEqual(["grow", "reverse", "shared", "transfer_funds"]);
        const call = await rpc(session, id++, "tools/call", { name: "transfer_funds", arguments: { amount: 100 } });
        expect(call.result.content[0].text).toBe("bank transferred");
      }
      expect((await upstreamStats("beta", scope)).requests["tools/call"]).toBe(1); // only grow reached aaa
      const listed = (await rpc(session, id++, "tools/list")).result.tools.find((t: { name: string }) => t.name === "transfer_funds");
      expect(listed.description).toBe("Moves money");

      await vi.waitFor(async () => expect(await eventsOf(p, "tool.shadowed")).toHaveLength(1), EVENTUALLY);
      const [event] = await eventsOf(p, "tool.shadowed");
      expect(event).toMatchObject({ target: "aaa", payload: { server: "aaa", name: "transfer_funds", heldBy: "zzz" } });
      // The binding is in the object's storage, so a restarted object keeps it.
      await runInDurableObject(presetStub(env, p.owner.handle, p.slug), async (_instance, state) => {
        const rows = state.storage.sql.exec("SELECT server FROM tool_bindings WHERE name = 'transfer_funds'").toArray();
        expect(rows).toEqual([{ server: "zzz" }]);
      });
    });
  }
});

describe("a big upstream catalog", () => {
  it("lists and calls all 2,500 tools of a 3.2 MB tools/list, without counting storage against the upstream", async () => {
    const scope = unique("huge");
    const p = await givenPreset({ servers: [{ name: "huge", url: upstreamUrl("huge", scope), tools: null }] });
    const session = await openSession(p.url);
    const names: string[] = [];
    let cursor: string | undefined;
    let id = 1;
    do {
      const page = await rpc(session, id++, "tools/list", cursor ? { cursor } : undefined);
      expect(page.error).toBeUndefined();
      names.push(...page.result.tools.map((t: { name: string }) => t.name));
      cursor = page.result.nextCursor;
    } while (cursor);
    expect(names).toHaveLength(2_500);
    expect(names[2_499]).toBe("huge__huge_2499");
    expect((await rpc(session, id++, "tools/call", { name: "huge__huge_1234", arguments: {} })).result.content[0].text).toBe("huge ran huge_1234");
    const view = await api("GET", `/presets/${p.slug}`, { token: p.owner.token });
    expect(view.body.servers[0].health).toMatchObject({ status: "ok", breaker: "closed", lastError: null });
    // The whole list is in the object's storage (in chunks), so a restarted object serves it without asking.
    // Stored per capability profile: `-` is a client that declared none (upstream/pool.ts).
    const serverId = `${p.servers.huge.id as string}#-`;
    await runInDurableObject(presetStub(env, p.owner.handle, p.slug), async (_instance, state) => {
      const sql = state.storage.sql;
      const row = sql.exec<{ fingerprint: string }>("SELECT fingerprint FROM upstream_tools WHERE server_id = ?", serverId).one();
      expect(sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM upstream_tool_chunks WHERE server_id = ?", serverId).one().n).toBeGreaterThan(1);
      const stored = new ToolStore(sql).read(serverId, row.fingerprint);
      expect(stored?.tools).toHaveLength(2_500);
      expect(stored?.tools[2_499]).toMatchObject({ name: "huge_2499" });
    });
  });

  it("never counts a storage failure against the upstream: the tools are served from memory, health stays ok", async () => {
    const p = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha", unique("store")), tools: ["echo"] }] });
    // The object's storage refuses to keep tool lists (as a full disk or SQLITE_TOOBIG would).
    await runInDurableObject(presetStub(env, p.owner.handle, p.slug), async (_instance, state) => {
      state.storage.sql.exec("DROP TABLE upstream_tools");
    });
    const session = await openSession(p.url);
    expect((await rpc(session, 1, "tools/list")).result.tools.map((t: { name: string }) => t.name)).toEqual(["alpha__echo"]);
    expect((await rpc(session, 2, "tools/call", { name: "alpha__echo", arguments: { text: "hi" } })).result.content[0].text).toBe("hi");
    const view = await api("GET", `/presets/${p.slug}`, { token: p.owner.token });
    expect(view.body.servers[0].health).toMatchObject({ status: "ok", breaker: "closed", lastError: null });
  });
});
