import { describe, expect, it } from "vitest";
import { buildCatalog, type CatalogSource, exposedName, findCollisions, mergeCatalog, pageOf, resolveToolName } from "../../src/tools/catalog";
import type { Tool } from "../../src/upstream/client";

const echo: Tool = {
  name: "echo",
  title: "Echo",
  description: "Echoes its input",
  inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
  outputSchema: { type: "object", properties: { text: { type: "string" } } },
  annotations: { readOnlyHint: true, idempotentHint: true },
  _meta: { "example.com/owner": "alpha-team" },
};
const add: Tool = { name: "add", description: "Adds two numbers", inputSchema: { type: "object" } };
const shared: Tool = { name: "shared", inputSchema: { type: "object" } };

const names = (sources: CatalogSource[]) => buildCatalog(sources).map((e) => e.name);

describe("buildCatalog", () => {
  it("exposes every tool as <server>__<tool> in source order", () => {
    expect(names([{ server: "alpha", selection: null, tools: [echo, add] }])).toEqual(["alpha__echo", "alpha__add"]);
  });

  it("keeps same-named tools of two servers apart", () => {
    const catalog = buildCatalog([
      { server: "alpha", selection: null, tools: [shared] },
      { server: "beta", selection: null, tools: [shared] },
    ]);
    expect(catalog.map((e) => [e.name, e.server, e.upstreamName])).toEqual([
      ["alpha__shared", "alpha", "shared"],
      ["beta__shared", "beta", "shared"],
    ]);
  });

  it("exposes only the selected tools of a server with a selection", () => {
    expect(names([{ server: "alpha", selection: ["add"], tools: [echo, add, shared] }])).toEqual(["alpha__add"]);
  });

  it("exposes every tool of a server whose selection is null", () => {
    expect(names([{ server: "alpha", selection: null, tools: [echo, add, shared] }])).toHaveLength(3);
  });

  it("exposes nothing for a server whose selection is empty", () => {
    expect(names([{ server: "alpha", selection: [], tools: [echo, add] }])).toEqual([]);
  });

  it("ignores selected names the upstream does not offer", () => {
    expect(names([{ server: "alpha", selection: ["echo", "gone", "never"], tools: [echo, add] }])).toEqual(["alpha__echo"]);
  });

  it("returns an empty catalog for no sources and for a server without tools", () => {
    expect(buildCatalog([])).toEqual([]);
    expect(buildCatalog([{ server: "alpha", selection: null, tools: [] }])).toEqual([]);
  });

  it("keeps description, schemas, annotations and _meta intact and replaces only the name", () => {
    const [entry] = buildCatalog([{ server: "alpha", selection: null, tools: [echo] }]);
    expect(entry).toEqual({ name: "alpha__echo", server: "alpha", upstreamName: "echo", tool: { ...echo, name: "alpha__echo" } });
    expect(entry?.tool.description).toBe("Echoes its input");
    expect(entry?.tool.inputSchema).toEqual(echo.inputSchema);
    expect(entry?.tool.outputSchema).toEqual(echo.outputSchema);
    expect(entry?.tool.annotations).toEqual({ readOnlyHint: true, idempotentHint: true });
    expect(entry?.tool._meta).toEqual({ "example.com/owner": "alpha-team" });
    expect(Object.keys(entry?.tool ?? {}).sort()).toEqual(Object.keys(echo).sort());
  });

  it("returns tool copies and leaves the upstream's tool objects unchanged", () => {
    const input: Tool = structuredClone(echo);
    const tools = [input];
    const [entry] = buildCatalog([{ server: "alpha", selection: null, tools }]);
    expect(entry?.tool).not.toBe(input);
    expect(input.name).toBe("echo");
    expect(input).toEqual(echo);
    expect(tools).toEqual([echo]);
  });
});

describe("resolveToolName", () => {
  const alpha = { name: "alpha", selection: null, id: "srv_a" };
  const beta = { name: "beta", selection: ["reverse", "a__b"], id: "srv_b" };
  const servers = [alpha, beta];

  it("routes an exposed name to its server object and upstream tool name", () => {
    const hit = resolveToolName("alpha__echo", servers);
    expect(hit?.server).toBe(alpha);
    expect(hit?.upstreamName).toBe("echo");
  });

  it("routes a selected tool of a server with a selection", () => {
    expect(resolveToolName("beta__reverse", servers)).toEqual({ server: beta, upstreamName: "reverse" });
  });

  it("returns null for a tool excluded by the server's selection", () => {
    expect(resolveToolName("beta__grow", servers)).toBeNull();
  });

  it("returns null for a server the preset does not have", () => {
    expect(resolveToolName("gamma__echo", servers)).toBeNull();
  });

  it("returns null for a server prefix with an empty tool name", () => {
    expect(resolveToolName("alpha__", servers)).toBeNull();
  });

  it.each(["echo", "alphaecho", "alpha_echo", "", "__echo", "__"])("returns null for %j, which has no server before a separator", (name) => {
    expect(resolveToolName(name, servers)).toBeNull();
  });

  it("splits at the first separator, so a tool name may itself contain __", () => {
    expect(resolveToolName("alpha__a__b", servers)).toEqual({ server: alpha, upstreamName: "a__b" });
    expect(resolveToolName("beta__a__b", servers)).toEqual({ server: beta, upstreamName: "a__b" });
  });

  it("keeps a leading underscore of the tool name", () => {
    expect(resolveToolName("alpha___private", servers)).toEqual({ server: alpha, upstreamName: "_private" });
  });

  it("does not match server names case-insensitively", () => {
    expect(resolveToolName("Alpha__echo", servers)).toBeNull();
  });

  it("resolves every name buildCatalog exposes back to the same server and tool", () => {
    // Server names start and end with a letter or digit, so "<server>__" always ends at the first "__".
    const sources: CatalogSource[] = [
      { server: "alpha", selection: null, tools: [echo, { name: "a__b" }, { name: "_x" }] },
      { server: "a_1", selection: null, tools: [add, { name: "_y" }] },
      { server: "b-1", selection: ["shared"], tools: [shared, echo] },
    ];
    const routed = sources.map((s) => ({ name: s.server, selection: s.selection }));
    for (const entry of buildCatalog(sources)) {
      const hit = resolveToolName(entry.name, routed);
      expect(hit, entry.name).not.toBeNull();
      expect(hit?.server.name, entry.name).toBe(entry.server);
      expect(hit?.upstreamName, entry.name).toBe(entry.upstreamName);
    }
  });
});

describe("exposedName", () => {
  it("joins server and tool with a double underscore", () => {
    expect(exposedName("alpha", "echo")).toBe("alpha__echo");
  });
});

describe("pageOf", () => {
  const items = ["a", "b", "c", "d", "e"];

  it("returns the first page and the offset of the next", () => {
    expect(pageOf(items, 0, 2)).toEqual({ items: ["a", "b"], next: 2 });
  });

  it("returns a middle page and the offset of the next", () => {
    expect(pageOf(items, 2, 2)).toEqual({ items: ["c", "d"], next: 4 });
  });

  it("returns a short last page with no next offset", () => {
    expect(pageOf(items, 4, 2)).toEqual({ items: ["e"], next: null });
  });

  it("returns no next offset when the page ends exactly at the end", () => {
    expect(pageOf(items.slice(0, 4), 2, 2)).toEqual({ items: ["c", "d"], next: null });
    expect(pageOf(items, 0, 5)).toEqual({ items, next: null });
  });

  it("returns an empty page past the end", () => {
    expect(pageOf(items, 10, 2)).toEqual({ items: [], next: null });
  });

  it("returns an empty page for an empty list", () => {
    expect(pageOf([], 0, 10)).toEqual({ items: [], next: null });
  });

  it("visits every item exactly once when following next offsets", () => {
    const seen: string[] = [];
    let offset: number | null = 0;
    let pages = 0;
    while (offset !== null && pages < 10) {
      const page: { items: string[]; next: number | null } = pageOf(items, offset, 2);
      seen.push(...page.items);
      offset = page.next;
      pages++;
    }
    expect(seen).toEqual(items);
    expect(pages).toBe(3);
  });

  it("returns a copy, not a view of the input", () => {
    const page = pageOf(items, 0, 2);
    page.items.push("z");
    expect(items).toEqual(["a", "b", "c", "d", "e"]);
  });
});

describe("naming options", () => {
  const alpha = { server: "alpha", selection: null, tools: [{ name: "echo", description: "Echo" }, { name: "add" }] };
  const beta = { server: "beta", selection: null, tools: [{ name: "echo", description: "Beta echo" }, { name: "reverse" }] };

  it("keeps upstream names with plain naming", () => {
    expect(buildCatalog([{ ...alpha, naming: "plain" }]).map((e) => e.name)).toEqual(["echo", "add"]);
  });

  it("applies name and description overrides in either naming mode", () => {
    const entries = buildCatalog([{ ...alpha, overrides: { echo: { name: "say", description: "Says it back" } } }]);
    expect(entries.map((e) => e.name)).toEqual(["say", "alpha__add"]);
    expect(entries[0]).toMatchObject({ upstreamName: "echo", tool: { name: "say", description: "Says it back" } });
    expect(buildCatalog([{ ...alpha, overrides: { add: { description: "Sum" } } }])[1]!.tool).toEqual({ name: "alpha__add", description: "Sum" });
  });

  it("finds the names two servers would both expose with plain naming, and none with prefixes", () => {
    expect(
      findCollisions([
        { ...alpha, naming: "plain" },
        { ...beta, naming: "plain" },
      ]),
    ).toEqual([{ name: "echo", servers: ["alpha", "beta"] }]);
    expect(findCollisions([alpha, beta])).toEqual([]);
    expect(
      findCollisions([
        { ...alpha, naming: "plain", selection: ["add"] },
        { ...beta, naming: "plain" },
      ]),
    ).toEqual([]);
    expect(
      findCollisions([
        { ...alpha, naming: "plain" },
        { ...beta, naming: "plain", overrides: { echo: { name: "beta_echo" } } },
      ]),
    ).toEqual([]);
  });

  it("lets the first server keep a name two would expose", () => {
    const entries = buildCatalog([
      { ...alpha, naming: "plain" },
      { ...beta, naming: "plain" },
    ]);
    expect(entries.filter((e) => e.name === "echo")).toEqual([expect.objectContaining({ server: "alpha" })]);
  });

  it("does not route plain or renamed names by prefix (the catalog routes them)", () => {
    expect(resolveToolName("alpha__echo", [{ name: "alpha", selection: null, naming: "plain" as const }])).toBeNull();
    expect(resolveToolName("alpha__echo", [{ name: "alpha", selection: null, overrides: { echo: { name: "say" } } }])).toBeNull();
    expect(resolveToolName("alpha__add", [{ name: "alpha", selection: null, overrides: { echo: { name: "say" } } }])).toMatchObject({ upstreamName: "add" });
  });
});

describe("mergeCatalog: names no client accepts", () => {
  const tool = (name: string): Tool => ({ name, inputSchema: { type: "object" } });
  it("drops tools whose exposed name is not ^[A-Za-z0-9_-]{1,64}$ or whose upstream name is empty", () => {
    const bad = ["bad name!\n<script>", "\u202Eexe", "x".repeat(306), "", "a.b", "x".repeat(59)];
    const merged = mergeCatalog([{ server: "evil", selection: null, tools: [...bad, "fine"].map(tool) }]);
    expect(merged.entries.map((e) => e.name)).toEqual(["evil__fine"]);
    expect(merged.dropped.map((d) => [d.upstreamName, d.reason])).toEqual(bad.map((b) => [b, "invalid_name"]));
    // Renamed by an override to a valid name, an awkward upstream name is fine.
    expect(buildCatalog([{ server: "evil", selection: null, tools: [tool("a.b")], overrides: { "a.b": { name: "ab" } } }]).map((e) => e.name)).toEqual(["ab"]);
  });

  it("routes no invalid name by its prefix", () => {
    const servers = [{ name: "evil", selection: null }];
    expect(resolveToolName("evil__bad name", servers)).toBeNull();
    expect(resolveToolName("evil__a.b", servers)).toBeNull();
    expect(resolveToolName(`evil__${"x".repeat(60)}`, servers)).toBeNull();
    expect(resolveToolName("evil__ok", servers)).toMatchObject({ upstreamName: "ok" });
  });
});

describe("mergeCatalog: a name stays with the server it was approved for", () => {
  const t = (name: string): Tool => ({ name, inputSchema: { type: "object" } });
  const aaa = (tools: string[], selection: string[] | null = null): CatalogSource => ({ server: "aaa", selection, tools: tools.map(t), naming: "plain" });
  const zzz = (tools: string[], selection: string[] | null = null): CatalogSource => ({ server: "zzz", selection, tools: tools.map(t), naming: "plain" });
  const owner = (m: ReturnType<typeof mergeCatalog>, name: string) => m.entries.find((e) => e.name === name)?.server;

  it("binds each plain name to the server that serves it first", () => {
    const m = mergeCatalog([aaa(["foo"]), zzz(["transfer_funds"])]);
    expect(m.bind).toEqual([
      ["foo", "aaa"],
      ["transfer_funds", "zzz"],
    ]);
    expect(m.dropped).toEqual([]);
    // Already bound: nothing to write.
    expect(mergeCatalog([aaa(["foo"]), zzz(["transfer_funds"])], new Map(m.bind)).bind).toEqual([]);
  });

  it("keeps a bound name with its server when an earlier server starts offering it, and reports the newcomer", () => {
    const bound = new Map([["transfer_funds", "zzz"]]);
    const m = mergeCatalog([aaa(["foo", "transfer_funds"]), zzz(["transfer_funds"])], bound);
    expect(owner(m, "transfer_funds")).toBe("zzz");
    expect(m.dropped).toEqual([{ server: "aaa", upstreamName: "transfer_funds", name: "transfer_funds", reason: "shadowed", heldBy: "zzz" }]);
    // Without the binding, the old first-in-order rule would have handed the name to aaa.
    expect(owner(mergeCatalog([aaa(["transfer_funds"]), zzz(["transfer_funds"])]), "transfer_funds")).toBe("aaa");
  });

  it("keeps the name reserved while its server is in the preset but does not list it (down, or dropped it)", () => {
    const m = mergeCatalog([aaa(["transfer_funds"]), zzz([])], new Map([["transfer_funds", "zzz"]]));
    expect(m.entries).toEqual([]);
    expect(m.dropped[0]).toMatchObject({ server: "aaa", reason: "shadowed", heldBy: "zzz" });
  });

  it("releases the bindings of a server that left the preset", () => {
    const m = mergeCatalog([aaa(["transfer_funds"])], new Map([["transfer_funds", "zzz"]]));
    expect(owner(m, "transfer_funds")).toBe("aaa");
    expect(m.release).toEqual(["transfer_funds"]);
    expect(m.bind).toEqual([["transfer_funds", "aaa"]]);
  });

  it("gives the name to the one server whose selection names the tool, over a binding and over server order", () => {
    const m = mergeCatalog([aaa(["transfer_funds"], ["transfer_funds"]), zzz(["transfer_funds"])], new Map([["transfer_funds", "zzz"]]));
    expect(owner(m, "transfer_funds")).toBe("aaa");
    expect(owner(mergeCatalog([aaa(["transfer_funds"]), zzz(["transfer_funds"], ["transfer_funds"])]), "transfer_funds")).toBe("zzz");
  });

  it("binds no prefixed name (the prefix already names the server)", () => {
    expect(mergeCatalog([{ server: "aaa", selection: null, tools: [t("foo")] }]).bind).toEqual([]);
  });
});
