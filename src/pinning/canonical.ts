/**
 * @module What a pin is taken of, and how two definitions differ (pure). A pin is the SHA-256 of
 * the canonical JSON (keys sorted, no whitespace) of the fields a client sees of an item and
 * relies on:
 * - a tool: name, title, description, inputSchema, outputSchema, annotations;
 * - a prompt: name, title, description, arguments;
 * - a resource template: uriTemplate, name, title, description, mimeType.
 * Anything else an upstream adds (`_meta`, icons) is not pinned: it changes what no model reads.
 * The definition is the upstream's, before the owner's overrides (a renamed tool is pinned by what
 * its upstream says it does).
 */
import { createHash } from "node:crypto";

export type PinKind = "tool" | "prompt" | "template";

/** A JSON value: what a definition and a diff are made of (and what crosses the Durable Object's RPC). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** The fields of each kind that are pinned. */
const PINNED_FIELDS: Record<PinKind, readonly string[]> = {
  tool: ["name", "title", "description", "inputSchema", "outputSchema", "annotations"],
  prompt: ["name", "title", "description", "arguments"],
  template: ["uriTemplate", "name", "title", "description", "mimeType"],
};

/** The item's key within its server: a tool's or prompt's name, a template's uriTemplate. */
export function itemKey(kind: PinKind, item: Record<string, unknown>): string {
  const key = kind === "template" ? item.uriTemplate : item.name;
  return typeof key === "string" ? key : "";
}

/** The pinned part of an item: only the fields of PINNED_FIELDS it has. */
export function definitionOf(kind: PinKind, item: Record<string, unknown>): Record<string, unknown> {
  const def: Record<string, unknown> = {};
  for (const field of PINNED_FIELDS[kind]) if (item[field] !== undefined) def[field] = item[field];
  return def;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/** JSON with object keys sorted at every depth: equal values, equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** The pin of a definition: lower-case hex SHA-256 of its canonical JSON. */
export function pinHash(definition: Record<string, unknown>): string {
  return createHash("sha256").update(canonicalJson(definition)).digest("hex");
}

/** How a definition changed, for a person to read: text fields side by side, schema paths added, removed or changed. */
export interface DefinitionDiff {
  /** Text fields (description, title, ...) whose value changed, before and after. */
  fields: Record<string, { before: Json; after: Json }>;
  /** Paths (`inputSchema.properties.memo`) present only in the new definition. */
  added: string[];
  /** Paths present only in the old one. */
  removed: string[];
  /** Paths present in both with another value, before and after. */
  changed: { path: string; before: Json; after: Json }[];
  /** True when there was more to say than a diff keeps (DIFF_LIMITS). */
  truncated?: boolean;
}

/** A diff stays small whatever an upstream sends: this many paths of each sort, values cut to this many characters. */
export const DIFF_LIMITS = { paths: 50, chars: 500 } as const;

const TEXT_FIELDS = new Set(["name", "title", "description", "uriTemplate", "mimeType"]);

/** A value as a diff shows it: strings cut, anything else as (cut) canonical JSON when large. */
function shown(value: unknown): Json {
  if (typeof value === "string") return value.length > DIFF_LIMITS.chars ? `${value.slice(0, DIFF_LIMITS.chars)}…` : value;
  if (value === undefined) return null;
  if (value === null || typeof value !== "object") return value as Json;
  const json = canonicalJson(value);
  return json.length > DIFF_LIMITS.chars ? `${json.slice(0, DIFF_LIMITS.chars)}…` : (JSON.parse(json) as Json);
}

/** The readable difference between two definitions of one item (null `before`: a new item, everything added). */
export function definitionDiff(before: Record<string, unknown> | null, after: Record<string, unknown>): DefinitionDiff {
  const diff: DefinitionDiff = { fields: {}, added: [], removed: [], changed: [] };
  let truncated = false;
  const push = <T>(list: T[], item: T) => {
    if (list.length < DIFF_LIMITS.paths) list.push(item);
    else truncated = true;
  };
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (isPlainObject(a) && isPlainObject(b)) {
      for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
        const sub = path ? `${path}.${key}` : key;
        if (!(key in a) || a[key] === undefined) push(diff.added, sub);
        else if (!(key in b) || b[key] === undefined) push(diff.removed, sub);
        else walk(a[key], b[key], sub);
      }
      return;
    }
    if (canonicalJson(a) !== canonicalJson(b)) push(diff.changed, { path, before: shown(a), after: shown(b) });
  };
  const old = before ?? {};
  for (const key of [...new Set([...Object.keys(old), ...Object.keys(after)])].sort()) {
    const a = old[key];
    const b = after[key];
    if (TEXT_FIELDS.has(key) && (typeof a === "string" || typeof b === "string" || a === undefined || b === undefined)) {
      if (canonicalJson(a ?? null) !== canonicalJson(b ?? null)) diff.fields[key] = { before: shown(a ?? null), after: shown(b ?? null) };
      continue;
    }
    if (a === undefined) push(diff.added, key);
    else if (b === undefined) push(diff.removed, key);
    else walk(a, b, key);
  }
  if (truncated) diff.truncated = true;
  return diff;
}
