import { env, SELF } from "cloudflare:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { fetchFor } from "./mcp-raw";

/** The worker under test answers on any origin; this one appears in preset URLs. */
export const ORIGIN = "http://gateway.test";

/**
 * vi.waitFor's budget for what the gateway does after it answered: audit events, call-log rows,
 * notifications to upstreams, catalog refreshes.
 */
export const EVENTUALLY = { timeout: 5_000, interval: 20 };

let counter = 0;
/** A handle, slug or name no other test uses (the tests of a file share one D1 database). */
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

/** A new user (made by the admin), with a handle no other test uses and the API token it came with. */
export async function createUser(opts: { email?: string } = {}): Promise<TestUser> {
  const handle = unique("u");
  const res = await api("POST", "/users", { token: env.ADMIN_TOKEN, body: { handle, ...opts } });
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

/** The SDK's real MCP client over Streamable HTTP, through the worker (or straight to a fixture upstream). */
export async function connectClient(url: string, opts: { token?: string; capabilities?: Record<string, unknown> } = {}): Promise<Client> {
  const client = new Client({ name: "mcpgate-test", version: "1.0.0" }, { capabilities: opts.capabilities ?? {} });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: fetchFor(url),
    requestInit: opts.token ? { headers: { authorization: `Bearer ${opts.token}` } } : undefined,
  });
  await client.connect(transport);
  return client;
}

/** The text of a tool result's first content item. */
export const textOf = (result: Record<string, unknown>): string => (result.content as { text: string }[])[0]!.text;

/** One server of a preset built by givenPreset: registered, then (unless `attach: false`) attached. */
export interface PresetServer {
  name: string;
  url: string;
  /** Server fields, sent when registering it (POST /servers). */
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** The selection, sent when attaching it (PUT /presets/:slug/servers/:name); a field left out is not sent. */
  tools?: string[] | null;
  prompts?: string[] | null;
  resources?: string[] | null;
  overrides?: Record<string, { name?: string; description?: string }>;
  enabled?: boolean;
  /** Whose upstream session a request goes on (left to the API's default, per-caller, when absent). */
  sessionScope?: "shared" | "per-caller" | "per-session";
  /** false: only registered, for the test to attach itself. */
  attach?: boolean;
}

/** A preset as a test wants it; every field left out is left to the API's default. */
export interface PresetSpec {
  /** Default: a new user. */
  owner?: TestUser;
  /** Default: a slug no other test uses. */
  slug?: string;
  visibility?: "public" | "private" | "invite_only";
  /** The preset's toolNaming. */
  naming?: "prefixed" | "plain";
  /** Registered in order, then attached in order. */
  servers?: PresetServer[];
  /** Users added as members. */
  members?: TestUser[];
  description?: string;
  rateLimit?: { requests: number; windowSeconds: number };
  toolLimits?: Record<string, { requests: number; windowSeconds: number }>;
  auditCalls?: boolean;
  auditArguments?: boolean;
  /** Tool pinning (on by default) and what it does with new tools (hold by default). */
  pinning?: "on" | "off";
  newTools?: "hold" | "expose";
}

export interface GivenPreset {
  owner: TestUser;
  slug: string;
  /** The preset's MCP endpoint. */
  url: string;
  presetId: string;
  /** The registered servers as the API answered them, by name. */
  servers: Record<string, any>;
}

/**
 * Builds a preset through the management API: the owner, the servers (registered, then attached
 * with their selections), the preset and its members. Fails the test on any refusal. (Fields
 * left undefined vanish from the JSON bodies, so the API sees only what the spec sets.)
 */
export async function givenPreset(spec: PresetSpec = {}): Promise<GivenPreset> {
  const { owner: given, slug = unique("p"), visibility = "public", naming, servers = [], members = [], ...fields } = spec;
  const owner = given ?? (await createUser());
  const registered: Record<string, any> = {};
  for (const { name, url, headers, timeoutMs } of servers) registered[name] = await addServer(owner, name, url, { headers, timeoutMs });
  const preset = await addPreset(owner, slug, visibility, { toolNaming: naming, ...fields });
  for (const { name, attach = true, tools, prompts, resources, overrides, enabled, sessionScope } of servers) {
    if (!attach) continue;
    const res = await api("PUT", `/presets/${slug}/servers/${name}`, {
      token: owner.token,
      body: { tools, prompts, resources, overrides, enabled, sessionScope },
    });
    // A first attach creates the selection: anything but 201 means the setup is not what the test asked for.
    if (res.status !== 201) throw new Error(`attach ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  for (const member of members) {
    const res = await api("POST", `/presets/${slug}/members`, { token: owner.token, body: { handle: member.handle } });
    if (res.status !== 201) throw new Error(`add member ${member.handle}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { owner, slug, url: presetUrl(owner.handle, slug), presetId: preset.id, servers: registered };
}

/**
 * A public preset with one server, `lib`, on the conformance fixture (test/fixtures/upstreams.mjs),
 * all its tools, with plain names unless told.
 */
export function conformancePreset(
  opts: {
    upstream?: "conformance" | "conformance_resumable" | "hostile";
    naming?: "plain" | "prefixed";
    timeoutMs?: number;
    scope?: string;
    sessionScope?: PresetServer["sessionScope"];
    newTools?: PresetSpec["newTools"];
  } = {},
): Promise<GivenPreset> {
  const { upstream = "conformance", naming = "plain", timeoutMs, scope, sessionScope, newTools } = opts;
  return givenPreset({ naming, newTools, servers: [{ name: "lib", url: upstreamUrl(upstream, scope), timeoutMs, tools: null, sessionScope }] });
}

/** Counters of a fixture upstream (initializes, requests by method, open sessions, DELETEs received, last headers). */
export async function upstreamStats(
  name: string,
  scope?: string,
): Promise<{
  initializes: number;
  requests: Record<string, number>;
  sessions: number;
  notFound: number;
  deletes: number;
  lastHeaders: Record<string, string> | null;
}> {
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

/** Makes a scoped fixture upstream answer HTTP 500 to the next `count` POSTs on an existing session (the sessions stay open). */
export async function failUpstreamRequests(name: string, scope: string, count = 1): Promise<void> {
  await fetch(`${env.UPSTREAM_BASE}/__fail/${name}?scope=${scope}&count=${count}`, { method: "POST" });
}
