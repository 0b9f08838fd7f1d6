/**
 * @module Tool naming and the catalog's pure core: which tools a preset exposes and under what
 * names. Each enabled server's selected tools are merged; with the default `prefixed` naming a
 * tool is exposed as `<server>__<tool>`, so two upstreams with the same tool name never collide;
 * with `plain` naming upstream names are kept (and collisions are refused when the preset is
 * configured). Per-tool overrides rename a tool or replace its description. The Durable Object's
 * built copy is tools/catalog-cache.ts.
 */
import type { Tool } from "../upstream/client";

export const NAME_SEPARATOR = "__";
/** MCP tool names: what every client accepts (some cap names at 64 characters). */
export const EXPOSED_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

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

/**
 * The exposed tools, in server order. When two sources expose the same name (possible only with
 * plain naming or overrides, and refused when configured), the first keeps it.
 */
export function buildCatalog(sources: readonly CatalogSource[]): CatalogEntry[] {
  const entries: CatalogEntry[] = [];
  const taken = new Set<string>();
  for (const src of sources) {
    const allowed = src.selection ? new Set(src.selection) : null;
    for (const tool of src.tools) {
      if (allowed && !allowed.has(tool.name)) continue;
      const name = exposedNameIn(src, tool.name);
      if (taken.has(name)) continue;
      taken.add(name);
      const description = src.overrides?.[tool.name]?.description;
      entries.push({ name, server: src.server, upstreamName: tool.name, tool: { ...tool, name, ...(description !== undefined ? { description } : {}) } });
    }
  }
  return entries;
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
