import type { Tool } from "./upstream-client";

/**
 * The preset's tool catalog: the union of each enabled server's selected tools, exposed as
 * `<server>__<tool>` so two upstreams with the same tool name never collide. Pure functions.
 */
export const NAME_SEPARATOR = "__";

export interface CatalogSource {
  server: string;
  /** Upstream tool names to expose, or null for all. */
  selection: readonly string[] | null;
  tools: readonly Tool[];
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

export function buildCatalog(sources: readonly CatalogSource[]): CatalogEntry[] {
  const entries: CatalogEntry[] = [];
  for (const src of sources) {
    const allowed = src.selection ? new Set(src.selection) : null;
    for (const tool of src.tools) {
      if (allowed && !allowed.has(tool.name)) continue;
      const name = exposedName(src.server, tool.name);
      entries.push({ name, server: src.server, upstreamName: tool.name, tool: { ...tool, name } });
    }
  }
  return entries;
}

/**
 * Which server and upstream tool an exposed name refers to, or null if the preset does not
 * expose it. Needs no upstream tool list: a call can be routed before the catalog is built.
 * Server names cannot contain "__", so the first separator splits the name unambiguously.
 */
export function resolveToolName<S extends { name: string; selection: readonly string[] | null }>(
  name: string,
  servers: readonly S[],
): { server: S; upstreamName: string } | null {
  const at = name.indexOf(NAME_SEPARATOR);
  if (at <= 0) return null;
  const serverName = name.slice(0, at);
  const upstreamName = name.slice(at + NAME_SEPARATOR.length);
  if (!upstreamName) return null;
  const server = servers.find((s) => s.name === serverName);
  if (!server) return null;
  if (server.selection && !server.selection.includes(upstreamName)) return null;
  return { server, upstreamName };
}

/** One page of `entries` from `offset`; `next` is the offset of the following page, if any. */
export function pageOf<T>(entries: readonly T[], offset: number, size: number): { items: T[]; next: number | null } {
  const items = entries.slice(offset, offset + size);
  return { items, next: offset + size < entries.length ? offset + size : null };
}
