/**
 * @module The client's network address, as far as the deployment can vouch for it. Behind
 * Cloudflare the edge sets `CF-Connecting-IP` and overwrites whatever the client sent, so it is
 * the client's address; anywhere else (wrangler dev, workerd self-hosted behind another proxy or
 * none) the header is whatever the client wrote, and trusting it would let a client pick a fresh
 * identity per request. workerd gives a worker no other view of the connection, so an untrusted
 * deployment has no client address at all: its anonymous callers share one identity.
 */
import type { Bindings } from "./bindings";

/**
 * The trusted client address of a request: `CF-Connecting-IP` when TRUST_CF_CONNECTING_IP is
 * "true", else null. Unvalidated text; policy/caller-key.ts turns it into a bucket.
 */
export function clientAddress(req: Request, env: Pick<Bindings, "TRUST_CF_CONNECTING_IP">): string | null {
  if (env.TRUST_CF_CONNECTING_IP !== "true") return null;
  return req.headers.get("cf-connecting-ip")?.trim() || null;
}
