/**
 * @module Tool naming and the catalog's pure core: which tools a preset exposes and under what
 * names. Each enabled server's selected tools are merged; with the default `prefixed` naming a
 * tool is exposed as `<server>__<tool>`, so two upstreams with the same tool name never collide;
 * with `plain` naming upstream names are kept (collisions are refused when the preset is
 * configured, and a name an upstream adds later never takes over another server's: mergeCatalog).
 * Per-tool overrides rename a tool or replace its description. Exposed names must be valid MCP
 * tool names. The Durable Object's built copy is tools/catalog-cache.ts.
 */
import type { Tool } from "../upstream/client";

export const NAME_SEPARATOR = "__";
/**
 * An exposed tool name every client accepts: several LLM APIs refuse a whole tool list when one
 * name fails `^[a-zA-Z0-9_-]{1,64}$`, so a preset exposes no other (issue 12, finding 7).
 */
export const EXPOSED_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** An exposed prompt name: prompts are not sent to model APIs as functions, so dots and 128 characters are fine. */
export const EXPOSED_PROMPT_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

export type ToolNaming = "prefixed" | "plain";

export interface ItemOverride {
  name?: string;
  description?: string;
}

export interface CatalogSource {
  server: string;
  /** Upstream tool names to expose, or null for all. */
  selection: readonly string[] | null;
  tools: readonly Tool[];
  naming?: ToolNaming;
  /** By upstream tool name. */
  overrides?: Readonly<Record<string, ItemOverride>> | null;
}

export interface CatalogEntry {
  name: string;
  server: string;
  upstreamName: string;
  /** The upstream's tool object with only `name` replaced: description, schemas, annotations intact. */
  tool: Tool;
}

export function exposedName(server: string, tool: string): string {
  return `${server}${NAME_SEPARATOR}${tool}`;
}

/** The name a source exposes one of its upstream tools under. */
export function exposedNameIn(src: Pick<CatalogSource, "server" | "naming" | "overrides">, upstreamName: string): string {
  const renamed = src.overrides?.[upstreamName]?.name;
  if (renamed) return renamed;
  return src.naming === "plain" ? upstreamName : exposedName(src.server, upstreamName);
}

/** A selected tool the catalog leaves out, and why: its exposed name is not valid, or another server holds that name. */
export interface CatalogDrop {
  server: string;
  upstreamName: string;
  name: string;
  reason: "invalid_name" | "shadowed";
  /** For "shadowed": the server the name stays with. */
  heldBy?: string;
}

/** What mergeCatalog built: the exposed tools, what it left out, and the name bindings to remember. */
export interface MergedCatalog {
  entries: CatalogEntry[];
  dropped: CatalogDrop[];
  /** Names (plain or renamed by an override) to bind to the server now serving them. */
  bind: [name: string, server: string][];
  /** Bound names whose server left the preset: forget them. */
  release: string[];
}

/**
 * The exposed tools, in server order. An exposed name that is not a valid MCP tool name is
 * dropped. Two sources can expose the same name only with plain naming or overrides (refused when
 * the owner configures the preset, but an upstream can add a tool later); the name then goes to:
 * 1. the one source whose selection names the tool explicitly (or whose override gave it the name):
 *    the owner approved that tool;
 * 2. else the server the name is bound to (`bindings`, name → server: the server that served it
 *    first), as long as that server is still in the preset, even while it does not list the name
 *    (down, or dropped it): a name is never silently re-routed to another upstream;
 * 3. else the first source in server order.
 * Every other claimant is dropped as shadowed.
 */
export function mergeCatalog(sources: readonly CatalogSource[], bindings: ReadonlyMap<string, string> = new Map()): MergedCatalog {
  const dropped: CatalogDrop[] = [];
  type Claim = { src: CatalogSource; tool: Tool; name: string; explicit: boolean };
  /** Every valid claim in server order, then the upstream's order: the order entries keep. */
  const ordered: Claim[] = [];
  const claims = new Map<string, Claim[]>();
  for (const src of sources) {
    const allowed = src.selection ? new Set(src.selection) : null;
    for (const tool of src.tools) {
      if (allowed && !allowed.has(tool.name)) continue;
      const name = exposedNameIn(src, tool.name);
      // An empty upstream name is no name, even where the prefix makes `<server>__` look like one.
      if (!tool.name || !EXPOSED_NAME.test(name)) {
        dropped.push({ server: src.server, upstreamName: tool.name, name, reason: "invalid_name" });
        continue;
      }
      const claim = { src, tool, name, explicit: !!allowed || !!src.overrides?.[tool.name]?.name };
      ordered.push(claim);
      const list = claims.get(name);
      if (list) list.push(claim);
      else claims.set(name, [claim]);
    }
  }
  const present = new Set(sources.map((s) => s.server));
  const release = [...bindings].filter(([, server]) => !present.has(server)).map(([name]) => name);
  const bind: [string, string][] = [];
  const winners = new Map<string, Claim>();
  for (const [name, list] of claims) {
    const explicit = list.filter((c) => c.explicit);
    const bound = bindings.get(name);
    const heldBy = explicit.length === 1 ? explicit[0]!.src.server : bound && present.has(bound) ? bound : list[0]!.src.server;
    for (const c of list) {
      if (c.src.server === heldBy && !winners.has(name)) winners.set(name, c);
      else dropped.push({ server: c.src.server, upstreamName: c.tool.name, name, reason: "shadowed", heldBy });
    }
    const winner = winners.get(name);
    const bindable = winner && (winner.src.naming === "plain" || !!winner.src.overrides?.[winner.tool.name]?.name);
    if (winner && bindable && bound !== heldBy) bind.push([name, heldBy]);
  }
  const entries: CatalogEntry[] = [];
  for (const claim of ordered) {
    if (winners.get(claim.name) !== claim) continue;
    const { src, tool, name } = claim;
    const description = src.overrides?.[tool.name]?.description;
    entries.push({ name, server: src.server, upstreamName: tool.name, tool: { ...tool, name, ...(description !== undefined ? { description } : {}) } });
  }
  return { entries, dropped, bind, release };
}

/** The exposed tools of mergeCatalog, with no names bound yet. */
export function buildCatalog(sources: readonly CatalogSource[]): CatalogEntry[] {
  return mergeCatalog(sources).entries;
}

/** Exposed names that more than one selected tool would get, with the servers involved. */
export function findCollisions(sources: readonly CatalogSource[]): { name: string; servers: string[] }[] {
  const owners = new Map<string, string[]>();
  for (const src of sources) {
    const allowed = src.selection ? new Set(src.selection) : null;
    for (const tool of src.tools) {
      if (allowed && !allowed.has(tool.name)) continue;
      const name = exposedNameIn(src, tool.name);
      owners.set(name, [...(owners.get(name) ?? []), src.server]);
    }
  }
  return [...owners].filter(([, servers]) => servers.length > 1).map(([name, servers]) => ({ name, servers }));
}

/**
 * Which server and upstream tool an exposed name refers to, or null if the preset does not
 * expose it. Needs no upstream tool list: a call can be routed before the catalog is built.
 * Server names cannot contain "__", so the first separator splits the name unambiguously.
 * Only for prefixed names without overrides; other names are routed through the catalog.
 */
export function resolveToolName<
  S extends { name: string; selection: readonly string[] | null; naming?: ToolNaming; overrides?: Readonly<Record<string, ItemOverride>> | null },
>(name: string, servers: readonly S[]): { server: S; upstreamName: string } | null {
  if (!EXPOSED_NAME.test(name)) return null;
  const at = name.indexOf(NAME_SEPARATOR);
  if (at <= 0) return null;
  const serverName = name.slice(0, at);
  const upstreamName = name.slice(at + NAME_SEPARATOR.length);
  if (!upstreamName) return null;
  const server = servers.find((s) => s.name === serverName);
  if (!server || server.naming === "plain") return null;
  if (server.selection && !server.selection.includes(upstreamName)) return null;
  // A renamed tool is reachable only under its new name.
  if (server.overrides?.[upstreamName]?.name) return null;
  return { server, upstreamName };
}

/** One page of `entries` from `offset`; `next` is the offset of the following page, if any. */
export function pageOf<T>(entries: readonly T[], offset: number, size: number): { items: T[]; next: number | null } {
  const items = entries.slice(offset, offset + size);
  return { items, next: offset + size < entries.length ? offset + size : null };
}
