import { env, SELF } from "cloudflare:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

/** The worker under test answers on any origin; this one appears in preset URLs. */
export const ORIGIN = "http://gateway.test";

let counter = 0;
/** A handle, slug or name no other test uses (test files share one D1 database). */
export function unique(prefix: string): string {
  counter++;
  return `${prefix}-${counter}-${crypto.randomUUID().slice(0, 8)}`;
}

export interface ApiResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** Calls the management API through the real worker. */
export async function api<T = any>(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await SELF.fetch(`${ORIGIN}/api/v1${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

export interface TestUser {
  id: string;
  handle: string;
  token: string;
}

export async function createUser(handle = unique("u")): Promise<TestUser> {
  const res = await api("POST", "/users", { token: env.ADMIN_TOKEN, body: { handle } });
  if (res.status !== 201) throw new Error(`createUser ${handle}: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.user.id, handle, token: res.body.token };
}

/**
 * URL of a fixture upstream started by test/global-setup.ts. With a `scope`, the same server with
 * its own sessions and counters, so a test can assert on what the upstream received.
 */
export function upstreamUrl(name: string, scope?: string): string {
  return scope ? `${env.UPSTREAM_BASE}/scope/${scope}/${name}/mcp` : `${env.UPSTREAM_BASE}/${name}/mcp`;
}

/** Registers a server, failing the test on anything but 201. */
export async function addServer(user: TestUser, name: string, url: string, extra: Record<string, unknown> = {}) {
  const res = await api("POST", "/servers", { token: user.token, body: { name, url, ...extra } });
  if (res.status !== 201) throw new Error(`addServer ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function addPreset(user: TestUser, slug: string, visibility = "public", extra: Record<string, unknown> = {}) {
  const res = await api("POST", "/presets", { token: user.token, body: { slug, name: slug, visibility, ...extra } });
  if (res.status !== 201) throw new Error(`addPreset ${slug}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function attach(user: TestUser, slug: string, server: string, tools?: string[] | null, enabled?: boolean) {
  const body: Record<string, unknown> = {};
  if (tools !== undefined) body.tools = tools;
  if (enabled !== undefined) body.enabled = enabled;
  const res = await api("PUT", `/presets/${slug}/servers/${server}`, { token: user.token, body });
  if (res.status !== 200 && res.status !== 201) throw new Error(`attach ${server}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export function presetUrl(handle: string, slug: string): string {
  return `${ORIGIN}/mcp/${handle}/${slug}`;
}

/** The SDK's real MCP client, speaking Streamable HTTP to the worker (or straight to an upstream). */
export async function connectClient(url: string, token?: string): Promise<Client> {
  const client = new Client({ name: "mcpgate-test", version: "1.0.0" });
  const viaWorker = url.startsWith(ORIGIN);
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: (input, init) => (viaWorker ? SELF.fetch(input as string, init) : fetch(input, init)),
    requestInit: token ? { headers: { authorization: `Bearer ${token}` } } : undefined,
  });
  await client.connect(transport);
  return client;
}

/** Raw Streamable HTTP POST to an MCP endpoint, for cases the SDK client would not send. */
export async function mcpPost(
  url: string,
  body: unknown,
  opts: { token?: string; sessionId?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; json: any; text: string }> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    ...opts.headers,
  };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.sessionId) headers["mcp-session-id"] = opts.sessionId;
  const res = await SELF.fetch(url, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, headers: res.headers, json, text };
}

export const INIT = (id: number | string = 1, protocolVersion = "2025-11-25") => ({
  jsonrpc: "2.0",
  id,
  method: "initialize",
  params: { protocolVersion, capabilities: {}, clientInfo: { name: "raw-test", version: "1" } },
});

/** Opens a session with a raw initialize and returns its id. */
export async function rawSession(url: string, token?: string, protocolVersion = "2025-11-25"): Promise<string> {
  const res = await mcpPost(url, INIT(1, protocolVersion), { token });
  const id = res.headers.get("mcp-session-id");
  if (res.status !== 200 || !id) throw new Error(`initialize failed: ${res.status} ${res.text}`);
  return id;
}

/** Counters of a fixture upstream (initializes, requests by method, last headers). */
export async function upstreamStats(
  name: string,
  scope?: string,
): Promise<{ initializes: number; requests: Record<string, number>; sessions: number; notFound: number; lastHeaders: Record<string, string> | null }> {
  const res = await fetch(`${env.UPSTREAM_BASE}/__stats/${name}${scope ? `?scope=${scope}` : ""}`);
  return res.json();
}

/** Takes a scoped fixture upstream down (503 to everything) or brings it back. */
export async function setUpstreamDown(name: string, scope: string, down: boolean): Promise<void> {
  await fetch(`${env.UPSTREAM_BASE}/${down ? "__down" : "__up"}/${name}?scope=${scope}`, { method: "POST" });
}

/** Makes the fixture upstream forget its sessions, as a restarted server would. */
export async function expireUpstreamSessions(name: string, scope: string): Promise<void> {
  await fetch(`${env.UPSTREAM_BASE}/__expire/${name}?scope=${scope}`, { method: "POST" });
}
