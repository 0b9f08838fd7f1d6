/**
 * @module How a preset exposes its upstreams' resource URIs (pure). With plain naming they are kept; with
 * prefixed naming `file:///notes.md` of server `docs` becomes `mcpgate://docs/file:///notes.md`,
 * a valid URI that carries its owner, and URI templates are rewritten the same way (so expanding
 * the exposed template gives the exposed URI of the expanded upstream template).
 */
import type { ToolNaming } from "../tools/catalog";

const PREFIX = "mcpgate://";

export function exposeUri(server: string, naming: ToolNaming, uri: string): string {
  return naming === "plain" ? uri : `${PREFIX}${server}/${uri}`;
}

/** The server and upstream URI of a prefixed exposed URI, or null when it is not one. */
export function parsePrefixedUri(uri: string): { server: string; uri: string } | null {
  if (!uri.startsWith(PREFIX)) return null;
  const rest = uri.slice(PREFIX.length);
  const slash = rest.indexOf("/");
  if (slash <= 0) return null;
  return { server: rest.slice(0, slash), uri: rest.slice(slash + 1) };
}

/**
 * Whether a URI is an expansion of an RFC 6570 template: literal parts must match exactly;
 * `{var}` matches one path segment, `{+var}` and `{#var}` anything, `{/var}`, `{.var}`, `{?…}` and
 * `{&…}` their operator's form. Enough to route resources/read to the template's owner.
 */
export function matchesTemplate(template: string, uri: string): boolean {
  return templatePattern(template).test(uri);
}

/** The regular expression matchesTemplate tests with, to compile a template once for many URIs. */
export function templatePattern(template: string): RegExp {
  let pattern = "^";
  let last = 0;
  for (const m of template.matchAll(/\{([+#./;?&]?)([^}]*)\}/g)) {
    pattern += escapeRegExp(template.slice(last, m.index));
    const op = m[1];
    if (op === "+" || op === "#") pattern += op === "#" ? "(?:#.*)?" : ".*";
    else if (op === "/") pattern += "(?:/[^/?#]*)*";
    else if (op === ".") pattern += "(?:\\.[^/?#.]*)*";
    else if (op === "?" || op === "&" || op === ";") pattern += "(?:[?&;][^#]*)?";
    else pattern += "[^/?#]*";
    last = (m.index ?? 0) + m[0].length;
  }
  pattern += `${escapeRegExp(template.slice(last))}$`;
  return new RegExp(pattern);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Replaces every `uri` field (resource contents, embedded resources) found in a result. */
export function rewriteUris(value: unknown, map: (uri: string) => string, depth = 0): unknown {
  if (depth > 32 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => rewriteUris(v, map, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = k === "uri" && typeof v === "string" ? map(v) : rewriteUris(v, map, depth + 1);
  return out;
}
