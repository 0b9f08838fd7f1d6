import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { conformancePreset, connectClient, textOf } from "../helpers";
import { deleteSession, isMethod, isResponseTo, openSession, post, SseReader, toolCall } from "../mcp-raw";

/**
 * Requests an upstream sends its client in the middle of a tools/call (sampling, elicitation,
 * roots), relayed to the client that made the call when it declared the capability.
 */

/** The client answers elicitations only when told to stop (notifications/cancelled); notes why. */
function elicitationsWaitForAbort(client: Client): { reason: unknown } {
  const seen: { reason: unknown } = { reason: undefined };
  client.setRequestHandler(
    ElicitRequestSchema,
    (_req, extra) =>
      new Promise((resolve) => {
        extra.signal.addEventListener("abort", () => {
          seen.reason = extra.signal.reason;
          resolve({ action: "cancel" });
        });
      }),
  );
  return seen;
}

describe("sampling through a preset", () => {
  it("relays a sampling request to the client that declared sampling, and its answer back upstream", async () => {
    const client = await connectClient((await conformancePreset()).url, { capabilities: { sampling: {} } });
    const asked: any[] = [];
    client.setRequestHandler(CreateMessageRequestSchema, async (req, extra) => {
      asked.push({ params: req.params, id: extra.requestId });
      return { role: "assistant", content: { type: "text", text: "sampled answer" }, model: "test-model" };
    });
    const result = await client.callTool({ name: "test_sampling", arguments: { prompt: "hello there" } });
    expect(asked).toHaveLength(1);
    expect(asked[0].id).toMatch(/^mcpgate-s\d+$/);
    expect(asked[0].params.messages[0].content).toEqual({ type: "text", text: "hello there" });
    expect(textOf(result)).toBe("LLM response: sampled answer");
    await client.close();
  });

  it("refuses sampling for a client that did not declare it: the tool reports it, and the reply is JSON", async () => {
    const { url } = await conformancePreset();
    const session = await openSession(url, { capabilities: { elicitation: {}, roots: {} } });
    const res = await post(session, toolCall(1, "test_sampling", { prompt: "hi" }));
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = await res.json<any>();
    expect(body.result.isError).toBe(true);
    expect(body.result.content[0].text).toContain("The client did not declare the sampling capability");
  });
});

describe("elicitation through a preset", () => {
  it("relays an accepted elicitation and its content", async () => {
    const client = await connectClient((await conformancePreset()).url, { capabilities: { elicitation: {} } });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { username: "ada", email: "ada@example.com" } }));
    const result = await client.callTool({ name: "test_elicitation", arguments: { message: "who are you?" } });
    expect(textOf(result)).toBe('Elicitation completed: action=accept, content={"username":"ada","email":"ada@example.com"}');
    await client.close();
  });

  it("relays a declined elicitation", async () => {
    const client = await connectClient((await conformancePreset()).url, { capabilities: { elicitation: {} } });
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      expect(req.params.message).toBe("share your email?");
      return { action: "decline" };
    });
    const result = await client.callTool({ name: "test_elicitation", arguments: { message: "share your email?" } });
    expect(textOf(result)).toBe("Elicitation completed: action=decline, content={}");
    await client.close();
  });

  it("tells the client to stop when the upstream cancels its elicitation (its own timeout)", async () => {
    const client = await connectClient((await conformancePreset()).url, { capabilities: { elicitation: {} } });
    const abort = elicitationsWaitForAbort(client);
    const result = await client.callTool({ name: "test_elicitation_abandoned", arguments: { timeoutMs: 150 } });
    expect(textOf(result)).toMatch(/^Elicitation abandoned: .*timed out/i);
    expect(String(abort.reason)).toMatch(/timed out/i);
  });

  it("tells the client to stop working on a request the call no longer waits for when the call ends", async () => {
    const client = await connectClient((await conformancePreset()).url, { capabilities: { elicitation: {} } });
    const abort = elicitationsWaitForAbort(client);
    const result = await client.callTool({ name: "test_elicitation_abandoned", arguments: { answerFirst: true, timeoutMs: 5_000 } });
    expect(textOf(result)).toBe("Answered while the elicitation was still pending.");
    await expect.poll(() => abort.reason, { timeout: 2_000 }).toBe("The tool call ended.");
  });

  it("routes an answer only from the session it was asked of: another session cannot answer for it", async () => {
    const { url } = await conformancePreset();
    const asked = await openSession(url, { capabilities: { elicitation: {} } });
    const stranger = await openSession(url, { capabilities: { elicitation: {} } });
    const reader = new SseReader(await post(asked, toolCall(1, "test_elicitation", { message: "name?" })));
    const request = await reader.message(isMethod("elicitation/create"));
    expect(request.id).toMatch(/^mcpgate-s\d+$/);

    const forged = await post(stranger, {
      jsonrpc: "2.0",
      id: request.id,
      result: { action: "accept", content: { username: "mallory", email: "m@evil.example" } },
    });
    expect(forged.status).toBe(202);
    const real = await post(asked, { jsonrpc: "2.0", id: request.id, result: { action: "accept", content: { username: "ada", email: "ada@example.com" } } });
    expect(real.status).toBe(202);

    const answer = await reader.message(isResponseTo(1));
    expect(answer.result.content[0].text).toContain('"username":"ada"');
    await reader.end();
  });

  it("relays a client's error answer to the upstream as an error", async () => {
    const { url } = await conformancePreset();
    const session = await openSession(url, { capabilities: { elicitation: {} } });
    const reader = new SseReader(await post(session, toolCall(1, "test_elicitation", { message: "name?" })));
    const request = await reader.message(isMethod("elicitation/create"));
    await post(session, { jsonrpc: "2.0", id: request.id, error: { code: -32000, message: "user went away" } });
    const answer = await reader.message(isResponseTo(1));
    expect(answer.result.isError).toBe(true);
    expect(answer.result.content[0].text).toContain("user went away");
  });
});

describe("a call waiting on its client that ends early", () => {
  it("cancels the pending request for the client when the client cancels the call", async () => {
    const { url } = await conformancePreset();
    const session = await openSession(url, { capabilities: { elicitation: {} } });
    const reader = new SseReader(await post(session, toolCall(1, "test_elicitation", { message: "name?" })));
    const request = await reader.message(isMethod("elicitation/create"));
    const cancel = await post(session, { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1, reason: "changed my mind" } });
    expect(cancel.status).toBe(202);
    await reader.end();
    const cancelled = reader.messages.find(isMethod("notifications/cancelled"));
    expect(cancelled.params.requestId).toBe(request.id);
    expect(reader.messages.at(-1)).toMatchObject({ id: 1, error: { code: -32800 } });
  });

  it("ends the calls of a session deleted while they wait on its client", async () => {
    const { url } = await conformancePreset();
    const session = await openSession(url, { capabilities: { elicitation: {} } });
    const reader = new SseReader(await post(session, toolCall(1, "test_elicitation", { message: "name?" })));
    await reader.message(isMethod("elicitation/create"));
    expect(await deleteSession(session)).toBe(204);
    // Nobody can answer the elicitation any more: the call must not wait for the 15-minute cap.
    try {
      await reader.end(1_500);
    } finally {
      reader.cancel();
    }
  });
});

describe("roots through a preset", () => {
  it("relays roots/list to a client that declared roots, and its roots back upstream", async () => {
    const client = await connectClient((await conformancePreset()).url, { capabilities: { roots: {} } });
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: "file:///work", name: "work" }] }));
    const result = await client.callTool({ name: "test_roots", arguments: {} });
    expect(JSON.parse(textOf(result))).toEqual([{ uri: "file:///work", name: "work" }]);
    await client.close();
  });

  it("refuses roots/list for a client that did not declare roots", async () => {
    const client = await connectClient((await conformancePreset()).url, { capabilities: { sampling: {} } });
    const result = await client.callTool({ name: "test_roots", arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("The client did not declare the roots capability");
    await client.close();
  });
});
