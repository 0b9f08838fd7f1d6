/** A receiver's own check of a Standard Webhooks signature, as the README shows it; for unit and workers tests alike. */

/** One request as the fixture receiver recorded it. */
export interface Received {
  headers: Record<string, string>;
  body: string;
  at: number;
  status: number;
}

/**
 * Checks a request's Standard Webhooks signature the way a receiver would, with its own HMAC code
 * (WebCrypto): HMAC-SHA256 over `${webhook-id}.${webhook-timestamp}.${body}` keyed with the
 * base64-decoded secret after `whsec_`, checked against each `v1,` signature of the header.
 */
export async function verifySignature(secret: string, request: Pick<Received, "headers" | "body">): Promise<boolean> {
  const id = request.headers["webhook-id"];
  const timestamp = request.headers["webhook-timestamp"];
  const header = request.headers["webhook-signature"];
  if (!id || !timestamp || !header) return false;
  const raw = Uint8Array.from(atob(secret.slice("whsec_".length)), (ch) => ch.charCodeAt(0));
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${request.body}`);
  for (const sig of header.split(" ")) {
    const [version, value] = sig.split(",");
    if (version !== "v1" || !value) continue;
    const given = Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0));
    if (await crypto.subtle.verify("HMAC", key, given, signed)) return true;
  }
  return false;
}
