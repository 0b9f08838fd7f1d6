import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { connectClient, givenPreset, ORIGIN, upstreamUrl } from "../helpers";
import { rawSession } from "../mcp-raw";

/** Deterministic PRNG (mulberry32) so a failing case can be reproduced from its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WEIRD = ["", " ", "\u0000", "💥", "\u202e", "名前", "a".repeat(5000), "../../etc/passwd", "<script>", "%00", "null", "__proto__", "constructor"];
const VALUES = [null, true, false, 0, -1, 1e308, 1.5, "", "x", [], {}, [1, [2, [3]]], { a: { b: {} } }, ...WEIRD];

function nested(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

/** A malformed or hostile MCP request: body and headers. */
function mcpCase(r: () => number, session: string): { body: string; headers: Record<string, string>; method: string } {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream" };
  if (r() < 0.5) headers["mcp-session-id"] = r() < 0.7 ? session : pick(["x", "a".repeat(200), "sess ion", "💥"].map(encodeURIComponent));
  if (r() < 0.15) headers["content-type"] = pick(["text/plain", "application/xml", "", "application/json-patch+json", "multipart/form-data"]);
  if (r() < 0.1) headers.accept = pick(["text/html", "", "application/json"]);
  if (r() < 0.15) headers["mcp-protocol-version"] = pick(["2025-11-25", "garbage", "1.0", "2025-13-45", "x".repeat(300)]);
  if (r() < 0.1) headers.authorization = pick(["Bearer", "Basic abc", `Bearer ${"x".repeat(3000)}`, `Bearer mcpg_${"0".repeat(40)}`, "bearer  spaced token"]);
  if (r() < 0.05) headers.origin = pick(["https://evil.example", "null", "http://localhost:6274"]);
  const kind = Math.floor(r() * 8);
  let body: string;
  switch (kind) {
    case 0: // random bytes
      body = Array.from({ length: Math.floor(r() * 200) }, () => String.fromCharCode(Math.floor(r() * 256))).join("");
      break;
    case 1: // truncated valid message
      body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "alpha__echo", arguments: { text: "hi" } } }).slice(
        0,
        Math.floor(r() * 60),
      );
      break;
    case 2: // wrong types in the envelope
      body = JSON.stringify({ jsonrpc: pick(VALUES), id: pick(VALUES), method: pick(VALUES), params: pick(VALUES) });
      break;
    case 3: // deeply nested
      body =
        r() < 0.5
          ? nested(1000 + Math.floor(r() * 50_000))
          : JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: JSON.parse(`{"name":"alpha__echo","arguments":{"text":${nested(500)}}}`) });
      break;
    case 4: // huge strings, still under the body limit
      body = JSON.stringify({
        jsonrpc: "2.0",
        id: "x".repeat(Math.floor(r() * 2000)),
        method: "tools/call",
        params: { name: "a".repeat(Math.floor(r() * 900_000)) },
      });
      break;
    case 5: // unicode and hostile tool names and arguments
      body = JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: pick(WEIRD), arguments: pick(VALUES) } });
      break;
    case 6: // batches of junk
      body = JSON.stringify(Array.from({ length: Math.floor(r() * 5) }, () => pick(VALUES)));
      break;
    default: // unknown or misplaced methods with odd params
      body = JSON.stringify({
        jsonrpc: "2.0",
        id: Math.floor(r() * 1e6),
        method: pick(["initialize", "tools/list", "resources/read", "", "rpc.discover", "💥", "tools/call"]),
        params: pick([{ cursor: pick(VALUES) }, { protocolVersion: pick(VALUES) }, {}]),
      });
  }
  return { body, headers, method: r() < 0.93 ? "POST" : pick(["PUT", "PATCH", "GET", "DELETE"]) };
}

/** A malformed management API request. */
function apiCase(r: () => number, slug: string): { path: string; method: string; body: string; headers: Record<string, string> } {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const paths = [
    "/servers",
    "/servers/alpha",
    `/presets`,
    `/presets/${slug}`,
    `/presets/${slug}/servers/alpha`,
    `/presets/${slug}/members`,
    `/presets/${slug}/events?limit=${encodeURIComponent(String(pick(VALUES)))}`,
    `/presets/${slug}/events?cursor=${encodeURIComponent(String(pick(WEIRD)))}`,
    "/tokens",
    `/servers/${encodeURIComponent(pick(WEIRD))}`,
    `/presets/${encodeURIComponent(pick(WEIRD))}`,
    "/users",
  ];
  const method = pick(["POST", "PATCH", "PUT", "DELETE", "GET"]);
  // DELETE needs no body, so on a real path it is a valid request: only aim it at junk paths.
  const path = method === "DELETE" ? `/presets/${slug}/members/${encodeURIComponent(pick(WEIRD))}x` : pick(paths);
  const field = () =>
    pick(["name", "url", "slug", "visibility", "tools", "headers", "timeoutMs", "handle", "rateLimit", "toolLimits", "status", "enabled", pick(WEIRD)]);
  const body =
    r() < 0.3
      ? Array.from({ length: Math.floor(r() * 100) }, () => String.fromCharCode(Math.floor(r() * 256))).join("")
      : // Always one field no schema knows: every body is invalid, whatever else it holds.
        JSON.stringify(Object.fromEntries([...Array.from({ length: Math.floor(r() * 4) }, () => [field(), pick(VALUES)]), ["fuzz💥", pick(VALUES)]]));
  const headers: Record<string, string> = { "content-type": r() < 0.85 ? "application/json" : pick(["text/plain", ""]) };
  return { path, method, body, headers };
}

const hung = Symbol("hung");
async function send(url: string, init: RequestInit): Promise<Response | typeof hung> {
  return Promise.race([SELF.fetch(url, init), new Promise<typeof hung>((r) => setTimeout(() => r(hung), 8_000))]);
}

async function snapshot(ownerId: string): Promise<string> {
  const rows = await env.DB.batch([
    env.DB.prepare("SELECT id, handle, email FROM users WHERE id = ?").bind(ownerId),
    env.DB.prepare("SELECT id, name, token_hash FROM api_tokens WHERE user_id = ? ORDER BY id").bind(ownerId),
    env.DB.prepare("SELECT * FROM servers WHERE owner_id = ? ORDER BY id").bind(ownerId),
    env.DB.prepare("SELECT * FROM presets WHERE owner_id = ? ORDER BY id").bind(ownerId),
    env.DB.prepare("SELECT ps.* FROM preset_servers ps JOIN presets p ON p.id = ps.preset_id WHERE p.owner_id = ? ORDER BY ps.server_id").bind(ownerId),
    env.DB.prepare("SELECT m.* FROM preset_members m JOIN presets p ON p.id = m.preset_id WHERE p.owner_id = ?").bind(ownerId),
    // Refused credentials are audited on purpose (auth.failed); nothing else may be written.
    env.DB.prepare("SELECT id, type FROM events WHERE owner_id = ? AND type != 'auth.failed' ORDER BY id").bind(ownerId),
    env.DB.prepare("SELECT count(*) AS n FROM users WHERE handle LIKE 'fz%'"),
  ]);
  return JSON.stringify(rows.map((r) => r.results));
}

function expectClientError(res: Response, text: string, label: string, mcp: boolean) {
  expect(res.status, label).toBeLessThan(500);
  if (res.status === 202 || res.status === 204) return;
  const json = JSON.parse(text); // always JSON, never a stack trace
  if (mcp && res.status < 400) {
    const errs = Array.isArray(json) ? json : [json];
    expect(
      errs.every((m: { error?: unknown; result?: unknown }) => m.error !== undefined || m.result !== undefined),
      label,
    ).toBe(true);
  }
  expect(text, label).not.toMatch(/\bat [\w.<>]+ \(.*:\d+:\d+\)/);
}

describe("hostile and malformed input", () => {
  it("answers hundreds of malformed MCP and API requests with 4xx or JSON-RPC errors, changes nothing, and keeps serving", { timeout: 120_000 }, async () => {
    const { owner, slug, url } = await givenPreset({
      rateLimit: { requests: 100_000, windowSeconds: 60 },
      servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }],
    });
    const session = await rawSession(url);
    const before = await snapshot(owner.id);

    const r = rng(20261122);
    for (let i = 0; i < 250; i++) {
      const c = mcpCase(r, session);
      const res = await send(url, { method: c.method, headers: c.headers, body: c.method === "GET" ? undefined : c.body });
      expect(res, `mcp case ${i} hung`).not.toBe(hung);
      const response = res as Response;
      expectClientError(response, await response.text(), `mcp case ${i}: ${c.method} ${JSON.stringify(c.headers)} ${c.body.slice(0, 120)}`, true);
    }
    for (let i = 0; i < 150; i++) {
      const c = apiCase(r, slug);
      const token = r() < 0.9 ? owner.token : env.ADMIN_TOKEN;
      const res = await send(`${ORIGIN}/api/v1${c.path}`, {
        method: c.method,
        headers: { ...c.headers, authorization: `Bearer ${token}` },
        body: c.method === "GET" || c.method === "DELETE" ? undefined : c.body,
      });
      expect(res, `api case ${i} hung`).not.toBe(hung);
      const response = res as Response;
      const text = await response.text();
      expectClientError(response, text, `api case ${i}: ${c.method} ${c.path} ${c.body.slice(0, 120)}`, false);
      if (c.method !== "GET")
        expect(response.status, `api case ${i} succeeded: ${c.method} ${c.path} ${c.body.slice(0, 200)} → ${text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
    }

    expect(await snapshot(owner.id)).toBe(before);
    const client = await connectClient(url);
    expect((await client.callTool({ name: "alpha__echo", arguments: { text: "still fine" } })).content).toEqual([{ type: "text", text: "still fine" }]);
    await client.close();
  });
});
