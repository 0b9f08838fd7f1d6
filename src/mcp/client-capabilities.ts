/**
 * @module What the gateway keeps of a client's initialize: only the capability flags it reads
 * (whether it may relay sampling, elicitation (form, url) and roots requests to the client), and a
 * bounded client name. Anything else a client declares (`experimental`, extensions, nested
 * objects of any size) is dropped before the session is stored, so what a caller can make a
 * preset's Durable Object hold per session is a few bytes. Pure.
 */

import { isJsonObject } from "./jsonrpc";

/** Client names (clientInfo.name) are cut to this many characters. */
export const CLIENT_NAME_MAX = 200;

/** The client capabilities the gateway reads (tools/call-relay.ts), as it stores them. */
export type KeptCapabilities = {
  sampling?: Record<string, never>;
  elicitation?: { form?: Record<string, never>; url?: Record<string, never> };
  roots?: { listChanged?: true };
};

/** The flags of `declared` the gateway uses, and nothing else. */
export function keptCapabilities(declared: unknown): KeptCapabilities {
  if (!isJsonObject(declared)) return {};
  const kept: KeptCapabilities = {};
  if (isJsonObject(declared.sampling)) kept.sampling = {};
  const elicitation = declared.elicitation;
  if (isJsonObject(elicitation)) {
    kept.elicitation = {};
    if (isJsonObject(elicitation.form)) kept.elicitation.form = {};
    if (isJsonObject(elicitation.url)) kept.elicitation.url = {};
  }
  const roots = declared.roots;
  if (isJsonObject(roots)) kept.roots = roots.listChanged === true ? { listChanged: true } : {};
  return kept;
}

/** clientInfo.name, bounded; null when there is none. */
export function keptClientName(clientInfo: unknown): string | null {
  if (!isJsonObject(clientInfo) || typeof clientInfo.name !== "string") return null;
  return clientInfo.name.slice(0, CLIENT_NAME_MAX);
}
