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

/** The regular expression matchesTemplate tests with, to compile a template once for many URIs. Each variable is a capture group. */
export function templatePattern(template: string): RegExp {
  let pattern = "^";
  let last = 0;
  for (const m of template.matchAll(/\{([+#./;?&]?)([^}]*)\}/g)) {
    pattern += escapeRegExp(template.slice(last, m.index));
    const op = m[1];
    if (op === "+" || op === "#") pattern += op === "#" ? "((?:#.*)?)" : "(.*)";
    else if (op === "/") pattern += "((?:/[^/?#]*)*)";
    else if (op === ".") pattern += "((?:\\.[^/?#.]*)*)";
    else if (op === "?" || op === "&" || op === ";") pattern += "((?:[?&;][^#]*)?)";
    else pattern += "([^/?#]*)";
    last = (m.index ?? 0) + m[0].length;
  }
  pattern += `${escapeRegExp(template.slice(last))}$`;
  return new RegExp(pattern);
}

/** How often a template value is percent-decoded when looking for hidden separators (`%252F` → `%2F` → `/`). */
const DECODE_ROUNDS = 4;
const ENCODED_SEPARATOR = /%(?:2f|5c)/i;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Why a value a URI gives a template variable could leave the place the template names, or null
 * if it cannot: a `.` or `..` path segment, a percent-encoded `/` or `\` (also double-encoded), a
 * backslash or a control character, in the value as sent or in any of its percent-decodings. A
 * selected `file:///docs/{name}` must not admit `file:///docs/..%2F..%2Fetc%2Fpasswd`.
 */
export function unsafeTemplateValue(value: string): string | null {
  let current = value;
  for (let round = 0; round <= DECODE_ROUNDS; round++) {
    if (CONTROL.test(current)) return "a control character";
    if (current.includes("\\")) return "a backslash";
    if (ENCODED_SEPARATOR.test(current)) return "an encoded '/' or '\\'";
    if (current.split(/[/?#&;=]/).some((segment) => segment === "." || segment === "..")) return "a '.' or '..' segment";
    let decoded: string;
    try {
      decoded = decodeURIComponent(current);
    } catch {
      return null; // not valid percent-encoding: nothing further hides in it
    }
    if (decoded === current) return null;
    current = decoded;
  }
  return "too many layers of percent-encoding";
}

/**
 * How a URI relates to a compiled template: "no" (not an expansion), "safe", or the reason one
 * of its variable values is unsafe (unsafeTemplateValue).
 */
export function expansionOf(pattern: RegExp, uri: string): { match: false } | { match: true; unsafe: string | null } {
  const m = pattern.exec(uri);
  if (!m) return { match: false };
  for (const value of m.slice(1)) {
    const unsafe = value ? unsafeTemplateValue(value) : null;
    if (unsafe) return { match: true, unsafe };
  }
  return { match: true, unsafe: null };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A result with the resource URIs it names mapped: `contents[].uri` (resources/read), and in
 * content items — a tool result's `content[]`, a prompt's `messages[].content` — a resource
 * link's `uri` and an embedded resource's `resource.uri`. Nothing else is touched: not
 * `structuredContent` (the tool's own data, checked against its output schema), not `_meta`.
 */
/** Whether a result has anything mapResultUris would look at: resource contents, prompt messages, resource links or embedded resources. */
export function namesResources(result: unknown): boolean {
  if (!isObject(result)) return false;
  if (Array.isArray(result.contents) || Array.isArray(result.messages)) return true;
  return Array.isArray(result.content) && result.content.some((c) => isObject(c) && (c.type === "resource_link" || c.type === "resource"));
}

export function mapResultUris<T>(result: T, map: (uri: string) => string): T {
  if (!isObject(result)) return result;
  const out: Record<string, unknown> = { ...result };
  if (Array.isArray(out.contents)) out.contents = out.contents.map((c) => (isObject(c) && typeof c.uri === "string" ? { ...c, uri: map(c.uri) } : c));
  if (Array.isArray(out.content)) out.content = out.content.map((c) => mapContentUri(c, map));
  if (Array.isArray(out.messages)) {
    out.messages = out.messages.map((m) => {
      if (!isObject(m)) return m;
      const content = Array.isArray(m.content) ? m.content.map((c) => mapContentUri(c, map)) : mapContentUri(m.content, map);
      return { ...m, content };
    });
  }
  return out as T;
}

function mapContentUri(item: unknown, map: (uri: string) => string): unknown {
  if (!isObject(item)) return item;
  if (item.type === "resource_link" && typeof item.uri === "string") return { ...item, uri: map(item.uri) };
  if (item.type === "resource" && isObject(item.resource) && typeof item.resource.uri === "string") {
    return { ...item, resource: { ...item.resource, uri: map(item.resource.uri) } };
  }
  return item;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
