/**
 * Upstream header values (API keys, bearer tokens) are encrypted at rest with AES-256-GCM.
 * The key is derived with HKDF from the ENCRYPTION_KEY secret, and the server id is bound as
 * additional data so a ciphertext copied onto another row does not decrypt.
 * Format: `v1.<iv base64url>.<ciphertext base64url>`.
 */
const VERSION = "v1";

async function deriveKey(secret: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new TextEncoder().encode("mcpgate/upstream-headers"), info: new Uint8Array() },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

function toB64u(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromB64u(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export async function encryptSecret(secret: string, plaintext: string, boundTo: string): Promise<string> {
  const key = await deriveKey(secret);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(boundTo) },
    key,
    new TextEncoder().encode(plaintext),
  );
  return `${VERSION}.${toB64u(iv)}.${toB64u(new Uint8Array(ct))}`;
}

/** Throws if the ciphertext was tampered with, bound to another row, or the key changed. */
export async function decryptSecret(secret: string, sealed: string, boundTo: string): Promise<string> {
  const [version, iv, ct] = sealed.split(".");
  if (version !== VERSION || !iv || !ct) throw new Error("unrecognised ciphertext format");
  const key = await deriveKey(secret);
  const pt = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromB64u(iv), additionalData: new TextEncoder().encode(boundTo) },
    key,
    fromB64u(ct),
  );
  return new TextDecoder().decode(pt);
}
