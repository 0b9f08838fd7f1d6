import { describe, expect, it, vi } from "vitest";
import { attach, conformancePreset, expireUpstreamSessions, textOf, unique } from "../helpers";
import {
  deleteSession,
  isMethod,
  listen,
  openSession,
  openStandalone,
  post,
  type RawSession,
  readMessages,
  rpc,
  SseReader,
  staysQuiet,
  toolCall,
} from "../mcp-raw";

/** Lists tools, prompts and resources once, so the gateway knows them before a change. */
async function listEverything(session: RawSession): Promise<void> {
  await rpc(session, 101, "tools/list");
  await rpc(session, 102, "prompts/list");
  await rpc(session, 103, "resources/list");
}

const toolNames = async (session: RawSession) => (await rpc(session, 104, "tools/list")).result.tools.map((t: { name: string }) => t.name);

/** Calls a tool with a raw POST and returns its result (JSON or streamed reply). */
async function callTool(session: RawSession, name: string, args: Record<string, unknown> = {}): Promise<any> {
  const messages = await readMessages(await post(session, toolCall(900, name, args)));
  return messages.find((m) => m.id === 900).result;
}

describe("the standalone GET stream", () => {
  it("starts with a priming event for a 2025-11-25 session", async () => {
    const { url } = await conformancePreset();
    const reader = await openStandalone(await openSession(url));
    expect(reader.events[0]).toMatchObject({ data: "", retry: 500 });
    expect(reader.events[0]!.id).toMatch(/\.0$/);
    reader.cancel();
  });

  it("tells a listener tools/list_changed when the owner changes the preset's tool selection", async () => {
    const p = await conformancePreset();
    const session = await openSession(p.url);
    await listEverything(session);
    const reader = await openStandalone(session);
    await attach(p.owner, p.slug, "lib", ["test_simple_text"]);
    const note = await reader.message(isMethod("notifications/tools/list_changed"));
    expect(note).toEqual({ jsonrpc: "2.0", method: "notifications/tools/list_changed" });
    expect(await toolNames(session)).toEqual(["test_simple_text"]);
    expect(await staysQuiet(reader, (m) => m.method !== "notifications/tools/list_changed", 200)).toBe(true);
    reader.cancel();
  });

  it("tells every listening session, each on its own stream", async () => {
    const p = await conformancePreset();
    const a = await openSession(p.url);
    const b = await openSession(p.url, { version: "2025-06-18" });
    await listEverything(a);
    const readerA = await openStandalone(a);
    const readerB = await openStandalone(b);
    await attach(p.owner, p.slug, "lib", ["test_simple_text"]);
    await readerA.message(isMethod("notifications/tools/list_changed"));
    await readerB.message(isMethod("notifications/tools/list_changed"));
    readerA.cancel();
    readerB.cancel();
  });

  it("says nothing when an owner's change leaves tools/list as it was", async () => {
    const p = await conformancePreset();
    const session = await openSession(p.url);
    await listEverything(session);
    const reader = await openStandalone(session);
    await attach(p.owner, p.slug, "lib", null);
    expect(await staysQuiet(reader, (m) => typeof m.method === "string" && m.method.endsWith("/list_changed"))).toBe(true);
    reader.cancel();
  });

  it("tells listeners prompts/list_changed when an upstream's prompts change (announced on another session's call)", async () => {
    // One shared upstream session: the prompt another client adds is the listener's too.
    const p = await conformancePreset({ sessionScope: "shared", newTools: "expose" });
    const listener = await openSession(p.url);
    const caller = await openSession(p.url);
    await listEverything(listener);
    const reader = await openStandalone(listener);
    expect(textOf(await callTool(caller, "test_add_prompt", { name: "fresh_prompt" }))).toBe("Added prompt fresh_prompt.");
    await reader.message(isMethod("notifications/prompts/list_changed"));
    const prompts = (await rpc(listener, 5, "prompts/list")).result.prompts.map((x: { name: string }) => x.name);
    expect(prompts).toContain("fresh_prompt");
    reader.cancel();
  });

  it("ends when the session is deleted", async () => {
    const { url } = await conformancePreset();
    const session = await openSession(url);
    const reader = await openStandalone(session);
    expect(await deleteSession(session)).toBe(204);
    await reader.end();
  });

  it("is replaced by a new GET: the old connection ends and notifications go to the new one", async () => {
    const p = await conformancePreset();
    const session = await openSession(p.url);
    await listEverything(session);
    const old = await openStandalone(session);
    const fresh = await openStandalone(session);
    await old.end();
    await attach(p.owner, p.slug, "lib", ["test_simple_text"]);
    await fresh.message(isMethod("notifications/tools/list_changed"));
    expect(old.messages).toEqual([]);
    fresh.cancel();
  });

  it("can be resumed with Last-Event-ID, getting what was sent while the client was away", async () => {
    const p = await conformancePreset();
    const session = await openSession(p.url);
    await listEverything(session);
    const first = await openStandalone(session);
    const primingId = first.events[0]!.id!;
    first.cancel();
    await attach(p.owner, p.slug, "lib", ["test_simple_text"]);
    // The change is announced asynchronously: resume until the announcement is there.
    const resumed = await vi.waitFor(
      async () => {
        const reader = new SseReader(await listen(session, { lastEventId: primingId }));
        await reader.until((r) => r.messages.length > 0 || r.ended, 250).catch(() => {});
        if (reader.messages.length > 0) return reader;
        reader.cancel();
        throw new Error("the announcement is not in the stream's log yet");
      },
      { timeout: 5_000, interval: 10 },
    );
    expect(resumed.messages).toEqual([{ jsonrpc: "2.0", method: "notifications/tools/list_changed" }]);
    expect(resumed.events[0]!.id).toBe(primingId.replace(/\.0$/, ".1"));
    resumed.cancel();
  });
});

describe("resources/updated on the standalone stream", () => {
  /** A preset, a subscribed session and an unsubscribed one, both listening. */
  // Two clients of one shared upstream session: one subscribes, the other's calls change the resource.
  async function twoListeners(naming: "plain" | "prefixed" = "plain", scope?: string) {
    const p = await conformancePreset({ naming, scope, sessionScope: "shared" });
    const subscribed = await openSession(p.url);
    const other = await openSession(p.url);
    const uri = (await rpc(subscribed, 1, "resources/list")).result.resources
      .map((r: { uri: string }) => r.uri)
      .find((u: string) => u.endsWith("watched-resource"));
    expect((await rpc(subscribed, 2, "resources/subscribe", { uri })).result).toEqual({});
    return { p, subscribed, other, uri: uri as string, subscribedReader: await openStandalone(subscribed), otherReader: await openStandalone(other) };
  }

  it.each([
    ["on the call's reply stream", "call"],
    ["on the upstream session's own GET stream", "session"],
  ])("reaches the subscribed session, and not another, when the upstream says so %s", async (_how, via) => {
    const t = await twoListeners();
    expect(textOf(await callTool(t.other, "test_update_resource", { via }))).toBe("Sent resources/updated for test://watched-resource.");
    const note = await t.subscribedReader.message(isMethod("notifications/resources/updated"));
    expect(note.params).toEqual({ uri: t.uri });
    expect(await staysQuiet(t.otherReader, isMethod("notifications/resources/updated"), 200)).toBe(true);
    t.subscribedReader.cancel();
    t.otherReader.cancel();
  });

  it("relays log lines an upstream sends outside any call to the owner's sessions that set a level, filtered by it", async () => {
    const p = await conformancePreset();
    const warned = await openSession(p.url, { token: p.owner.token });
    const quiet = await openSession(p.url, { token: p.owner.token });
    expect((await rpc(warned, 1, "logging/setLevel", { level: "warning" })).result).toEqual({});
    const warnedReader = await openStandalone(warned);
    const quietReader = await openStandalone(quiet);
    expect(textOf(await callTool(quiet, "test_log_levels", { via: "session" }))).toMatch(/^Sent/);
    await warnedReader.until((r) => r.messages.filter(isMethod("notifications/message")).length >= 2, 3_000, "two log lines");
    const lines = warnedReader.messages.filter(isMethod("notifications/message")).map((m) => m.params);
    expect(lines).toEqual([
      { level: "warning", logger: "conformance-upstream", data: "warning line" },
      { level: "error", logger: "conformance-upstream", data: "error line" },
    ]);
    expect(await staysQuiet(quietReader, isMethod("notifications/message"), 200)).toBe(true);
    warnedReader.cancel();
    quietReader.cancel();
  });

  it("names the resource by its exposed URI on a preset with prefixed names", async () => {
    const t = await twoListeners("prefixed");
    expect(t.uri).toBe("mcpgate://lib/test://watched-resource");
    await callTool(t.other, "lib__test_update_resource");
    const note = await t.subscribedReader.message(isMethod("notifications/resources/updated"));
    expect(note.params).toEqual({ uri: "mcpgate://lib/test://watched-resource" });
    t.subscribedReader.cancel();
    t.otherReader.cancel();
  });

  it("keeps the upstream subscribed until the last session unsubscribes", async () => {
    const t = await twoListeners();
    expect((await rpc(t.other, 3, "resources/subscribe", { uri: t.uri })).result).toEqual({});
    expect((await rpc(t.subscribed, 4, "resources/unsubscribe", { uri: t.uri })).result).toEqual({});
    expect(textOf(await callTool(t.other, "test_update_resource"))).toMatch(/^Sent/);
    await t.otherReader.message(isMethod("notifications/resources/updated"));
    expect(t.subscribedReader.messages.filter(isMethod("notifications/resources/updated"))).toEqual([]);

    expect((await rpc(t.other, 5, "resources/unsubscribe", { uri: t.uri })).result).toEqual({});
    expect(textOf(await callTool(t.other, "test_update_resource"))).toBe("Not subscribed to test://watched-resource: nothing sent.");
    t.subscribedReader.cancel();
    t.otherReader.cancel();
  });

  it("subscribes a new upstream session again after the old one was lost", async () => {
    const scope = unique("resub");
    const t = await twoListeners("plain", scope);
    await expireUpstreamSessions("conformance", scope);
    // The first call after the loss reconnects; the subscription follows the new session shortly.
    await vi.waitFor(async () => expect(textOf(await callTool(t.other, "test_update_resource"))).toBe("Sent resources/updated for test://watched-resource."), {
      timeout: 5_000,
      interval: 50,
    });
    await t.subscribedReader.message(isMethod("notifications/resources/updated"));
    t.subscribedReader.cancel();
    t.otherReader.cancel();
  });

  it("unsubscribes upstream when the last subscribed session is deleted", async () => {
    const t = await twoListeners();
    expect(await deleteSession(t.subscribed)).toBe(204);
    expect(textOf(await callTool(t.other, "test_update_resource"))).toBe("Not subscribed to test://watched-resource: nothing sent.");
    t.otherReader.cancel();
  });
});
