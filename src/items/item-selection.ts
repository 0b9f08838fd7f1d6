/**
 * @module Which prompts, resources and resource templates of an attached server a preset exposes (pure).
 * Like the tool selection, a selection names items as the upstream lists them — prompt names, or
 * resource URIs and URI templates (`uriTemplate` verbatim) — and null selects everything. A
 * selected template selects itself (templates/list, completions) and every URI that expands it
 * (resources/list, read, subscribe), so a client can read exactly the resources it may see listed.
 */

import type { ToolNaming } from "../tools/catalog";
import type { Item, ItemKind } from "../upstream/client";
import { expansionOf, exposeUri, mapResultUris, namesResources, templatePattern } from "./resource-names";

export type ItemSelection = readonly string[] | null;

export function selectsPrompt(selection: ItemSelection, name: string): boolean {
  return selection === null || selection.includes(name);
}

/** Whether a resource template is selected, by its exact template string. */
export function selectsTemplate(selection: ItemSelection, uriTemplate: string): boolean {
  return selection === null || selection.includes(uriTemplate);
}

/**
 * Whether a selection admits a URI: "selected" (selected as such, or a safe expansion of a
 * selected template), "unselected", or "unsafe" when it expands a selected template only with a
 * variable value that could climb out of it (resource-names.ts unsafeTemplateValue): refused as
 * invalid params, never sent upstream.
 */
export type UriVerdict = "selected" | "unselected" | "unsafe";

/** The verdict for URIs under one selection (templates compiled once). */
export function uriJudge(selection: ItemSelection): (uri: string) => UriVerdict {
  if (selection === null) return () => "selected";
  const exact = new Set(selection);
  const templates = selection.filter((s) => s.includes("{")).map(templatePattern);
  return (uri) => {
    if (exact.has(uri)) return "selected";
    let unsafe = false;
    for (const t of templates) {
      const expansion = expansionOf(t, uri);
      if (expansion.match && !expansion.unsafe) return "selected";
      if (expansion.match) unsafe = true;
    }
    return unsafe ? "unsafe" : "unselected";
  };
}

/** A test for URIs: selected as such, or a safe expansion of a selected template (compiled once). */
export function uriSelector(selection: ItemSelection): (uri: string) => boolean {
  const judge = uriJudge(selection);
  return (uri) => judge(uri) === "selected";
}

export function selectsUri(selection: ItemSelection, uri: string): boolean {
  return uriSelector(selection)(uri);
}

/** The upstream items of one kind the selection keeps, in the upstream's order. */
export function selectItems(kind: ItemKind, selection: ItemSelection, items: readonly Item[]): Item[] {
  if (selection === null) return [...items];
  if (kind === "prompts") return items.filter((p) => typeof p.name === "string" && selectsPrompt(selection, p.name));
  if (kind === "resourceTemplates") return items.filter((t) => typeof t.uriTemplate === "string" && selectsTemplate(selection, t.uriTemplate));
  const selects = uriSelector(selection);
  return items.filter((r) => typeof r.uri === "string" && selects(r.uri));
}

/**
 * An upstream's result (tools/call, prompts/get, resources/read) with the resource URIs it names
 * (resource-names.ts mapResultUris) in the form the preset exposes them: with prefixed naming, a
 * URI the server's selection admits becomes `mcpgate://<server>/<uri>`, which resources/read
 * routes back; any other URI is kept as the upstream wrote it (the gateway would not serve it, and
 * a client may still reach an `https://` link on its own). Plain naming keeps every URI.
 */
export function exposeResultUris<T>(server: { name: string; naming: ToolNaming; resourceSelection: ItemSelection }, result: T): T {
  // Most results name no resource: they are returned as they are, with nothing built or copied.
  if (server.naming === "plain" || !namesResources(result)) return result;
  const judge = uriJudge(server.resourceSelection);
  return mapResultUris(result, (uri) => (judge(uri) === "selected" ? exposeUri(server.name, "prefixed", uri) : uri));
}
