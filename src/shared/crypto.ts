/**
 * @module Small crypto helpers on WebCrypto: hashing, constant-time comparison, and sealing a
 * secret to the row it belongs to.
 *
 * Sealed secrets (upstream header values: API keys, bearer tokens) use AES-256-GCM. The key is
 * derived with HKDF from a secret (ENCRYPTION_KEY), and `boundTo` (the server id) is bound as
 * additional data, so a ciphertext copied onto another row does not decrypt.
 * Format: `v1.<iv base64url>.<ciphertext base64url>`.
 */
import { base64url } from "jose";

const VERSION = "v1";

/** Lower-case hex SHA-256 of a string. */
export async function sha256Hex(input: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(input));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Unpadded base64url SHA-256 of a string (PKCE's S256). */
export async function sha256Base64url(input: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(input))));
}

/** Compares two strings in time independent of where they differ. */
export function timingSafeEqual(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  let diff = ea.length ^ eb.length;
  for (let i = 0; i < Math.max(ea.length, eb.length); i++) diff |= (ea[i] ?? 0) ^ (eb[i] ?? 0);
  return diff === 0;
}

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

export async function encryptSecret(secret: string, plaintext: string, boundTo: string): Promise<string> {
  const key = await deriveKey(secret);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(boundTo) }, key, new TextEncoder().encode(plaintext));
  return `${VERSION}.${base64url.encode(iv)}.${base64url.encode(new Uint8Array(ct))}`;
}

/** Throws if the ciphertext was tampered with, bound to another row, or the key changed. */
export async function decryptSecret(secret: string, sealed: string, boundTo: string): Promise<string> {
  const [version, iv, ct] = sealed.split(".");
  if (version !== VERSION || !iv || !ct) throw new Error("unrecognised ciphertext format");
  const key = await deriveKey(secret);
  const pt = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: base64url.decode(iv), additionalData: new TextEncoder().encode(boundTo) },
    key,
    base64url.decode(ct),
  );
  return new TextDecoder().decode(pt);
}
