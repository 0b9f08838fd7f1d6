/**
 * @module One-off requests to an upstream outside any preset, in the upstream's era: the management
 * API's live tool list and health check, and the console's live prompts and resources. A modern upstream is asked statelessly; a legacy one gets
 * an initialized session that is closed again.
 */
import {
  CONNECT_TIMEOUT_MS,
  type ConnectOptions,
  connectUpstream,
  endUpstreamSession,
  type Item,
  type ItemKind,
  listUpstreamItems,
  type PingResult,
  pingUpstream as pingLegacy,
  type Tool,
  fetchUpstreamTools as toolsOfLegacy,
  UpstreamFailure,
  UpstreamRpcError,
  type UpstreamServer,
} from "./client";
import { discoverEra, listModern } from "./modern";

/** Every tool of the upstream, in its era; any failure (a failed era probe included) is an UpstreamFailure. */
export async function fetchUpstreamTools(server: UpstreamServer, opts: ConnectOptions): Promise<Tool[]> {
  try {
    return await toolsInEra(server, opts);
  } catch (e) {
    if (e instanceof UpstreamRpcError)
      throw new UpstreamFailure(server.name, "bad_response", `Upstream '${server.name}' refused to list its tools: ${e.message}`);
    throw e;
  }
}

async function toolsInEra(server: UpstreamServer, opts: ConnectOptions): Promise<Tool[]> {
  let seq = 0;
  const nextId = () => `mcpgate-api-${++seq}`;
  const verdict = await discoverEra(server, nextId(), { allowInsecure: opts.allowInsecure });
  if (verdict.era === "legacy") return toolsOfLegacy(server, opts);
  return (await listModern(server, "tools", nextId, { allowInsecure: opts.allowInsecure })) as Tool[];
}

/** An upstream's prompts, resources and resource templates, as its lists say now. */
export type UpstreamItems = Record<ItemKind, Item[]>;

const ITEM_KINDS: readonly ItemKind[] = ["prompts", "resources", "resourceTemplates"];

/**
 * Every prompt, resource and resource template of the upstream, in its era; a kind the upstream
 * lacks the capability for is empty. Any failure is an UpstreamFailure, like fetchUpstreamTools.
 */
export async function fetchUpstreamItems(server: UpstreamServer, opts: ConnectOptions): Promise<UpstreamItems> {
  try {
    return await itemsInEra(server, opts);
  } catch (e) {
    if (e instanceof UpstreamRpcError)
      throw new UpstreamFailure(server.name, "bad_response", `Upstream '${server.name}' refused to list its prompts or resources: ${e.message}`);
    throw e;
  }
}

async function itemsInEra(server: UpstreamServer, opts: ConnectOptions): Promise<UpstreamItems> {
  let seq = 0;
  const nextId = () => `mcpgate-api-${++seq}`;
  const verdict = await discoverEra(server, nextId(), { allowInsecure: opts.allowInsecure });
  const out: UpstreamItems = { prompts: [], resources: [], resourceTemplates: [] };
  if (verdict.era === "legacy") {
    const client = await connectUpstream(server, opts);
    try {
      for (const kind of ITEM_KINDS) out[kind] = await listUpstreamItems(server, client, kind);
    } finally {
      await endUpstreamSession(client);
    }
    return out;
  }
  const capabilities = verdict.profile?.capabilities;
  for (const kind of ITEM_KINDS) {
    if (capabilities && !capabilities[kind === "prompts" ? "prompts" : "resources"]) continue;
    out[kind] = await listModern(server, kind, nextId, { allowInsecure: opts.allowInsecure });
  }
  return out;
}

/**
 * The health check: a legacy upstream is connected and pinged; a modern one (which has no
 * session and no ping) answers server/discover, whose round trip is both its connect and its latency.
 */
export async function pingUpstream(server: UpstreamServer, opts: ConnectOptions, now: () => number = Date.now): Promise<PingResult> {
  const started = now();
  try {
    const verdict = await discoverEra(server, "mcpgate-api-ping", { allowInsecure: opts.allowInsecure });
    if (verdict.era === "legacy") return pingLegacy(server, opts, now);
    const latency = now() - started;
    return { ok: true, connectMs: latency, latencyMs: latency, failure: null };
  } catch (e) {
    const failure =
      e instanceof UpstreamFailure || e instanceof UpstreamRpcError
        ? e
        : new UpstreamFailure(server.name, "unreachable", `Upstream '${server.name}' did not answer within ${CONNECT_TIMEOUT_MS} ms.`);
    return { ok: false, connectMs: null, latencyMs: null, failure };
  }
}
