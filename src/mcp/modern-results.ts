/**
 * @module What a modern-era (2026-07-28) client gets that a legacy one does not, added to a reply
 * the gateway already serialized: `resultType: "complete"` on every result, the caching hints
 * `ttlMs` and `cacheScope` on list results and resources/read (SEP-2549), and -32602 instead of
 * -32002 for a resource that does not exist. Spliced into the JSON text rather than parsed and
 * serialized again, so a warm tools/list of a thousand tools costs the modern era nothing more. Pure.
 */
import { RpcCode, type RpcId, replyHead } from "./jsonrpc";

export interface CacheHints {
  ttlMs: number;
  cacheScope: "public" | "private";
}

/** The methods whose results carry caching hints (server/discover builds its own). */
export const CACHEABLE_METHODS: ReadonlySet<string> = new Set(["tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read"]);

/** `body` (one serialized JSON-RPC response to request `id`) as a modern client gets it. */
export function modernReply(body: string, id: RpcId, hints?: CacheHints): string {
  const head = replyHead(id);
  if (!body.startsWith(head)) return body;
  const rest = body.slice(head.length);
  if (rest.startsWith('"result":{')) {
    const inner = rest.slice('"result":{'.length);
    // A result that says its own type (a task, an input round) is left as it is.
    if (inner.startsWith('"resultType":')) return body;
    let fields = '"resultType":"complete"';
    if (hints) fields += `,"ttlMs":${Math.max(0, Math.floor(hints.ttlMs))},"cacheScope":"${hints.cacheScope}"`;
    return `${head}"result":{${fields}${inner.startsWith("}") ? "" : ","}${inner}`;
  }
  const notFound = `"error":{"code":${RpcCode.ResourceNotFound},`;
  if (rest.startsWith(notFound)) return `${head}"error":{"code":${RpcCode.InvalidParams},${rest.slice(notFound.length)}`;
  return body;
}

/** Whether `body` is an error reply with `code` (for the HTTP status of a modern reply). */
export function isErrorReply(body: string, id: RpcId, code: number): boolean {
  return body.startsWith(`${replyHead(id)}"error":{"code":${code},`);
}
