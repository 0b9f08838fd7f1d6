import { calculateJwkThumbprint, exportJWK, type JWK, type JWTPayload, jwtVerify, SignJWT } from "jose";
import type { Bindings } from "../shared/bindings";

/**
 * Signing keys of the authorization server: Ed25519, derived with HKDF from a secret, so any
 * long random string works as OAUTH_SIGNING_KEY (falling back to ENCRYPTION_KEY). The previous
 * key (OAUTH_SIGNING_KEY_PREVIOUS) still verifies and is still published, so rotating is:
 * move the key to _PREVIOUS, set a new one, and drop _PREVIOUS after the longest token lifetime.
 */
export const ALG = "EdDSA";

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

/** PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

async function deriveKey(secret: string): Promise<SigningKey> {
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, ["deriveBits"]);
  const seed = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: new TextEncoder().encode("mcpgate/oauth-signing"), info: new TextEncoder().encode("ed25519-v1") },
      material,
      256,
    ),
  );
  const pkcs8 = new Uint8Array(PKCS8_ED25519_PREFIX.length + seed.length);
  pkcs8.set(PKCS8_ED25519_PREFIX);
  pkcs8.set(seed, PKCS8_ED25519_PREFIX.length);
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const jwk = await exportJWK(privateKey);
  const publicJwk: JWK = { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
  const kid = await calculateJwkThumbprint(publicJwk);
  const publicKey = await crypto.subtle.importKey("jwk", publicJwk as JsonWebKey, { name: "Ed25519" }, true, ["verify"]);
  return { kid, privateKey, publicKey, publicJwk: { ...publicJwk, kid, alg: ALG, use: "sig" } };
}

/**
 * Derived keys by secret. Deriving costs a few hundred microseconds and the result depends only
 * on the secret, so it is memoised for the isolate's life: a pure function's cache, not state.
 */
const derived = new Map<string, Promise<SigningKey>>();
function keyFor(secret: string): Promise<SigningKey> {
  let key = derived.get(secret);
  if (!key) {
    key = deriveKey(secret);
    derived.set(secret, key);
    key.catch(() => derived.delete(secret));
  }
  return key;
}

/** The secret the OAuth server derives its keys from (signing, and sealing a refresh's reply). */
export function currentSecret(env: Bindings): string {
  const secret = env.OAUTH_SIGNING_KEY || env.ENCRYPTION_KEY;
  if (!secret || secret.length < 16) throw new Error("OAUTH_SIGNING_KEY (or ENCRYPTION_KEY) must be set to at least 16 characters");
  return secret;
}

export function signingKey(env: Bindings): Promise<SigningKey> {
  return keyFor(currentSecret(env));
}

/** Keys that verify tokens: the current one, then the previous one during a rotation. */
export async function verificationKeys(env: Bindings): Promise<SigningKey[]> {
  const keys = [await signingKey(env)];
  if (env.OAUTH_SIGNING_KEY_PREVIOUS && env.OAUTH_SIGNING_KEY_PREVIOUS.length >= 16) keys.push(await keyFor(env.OAUTH_SIGNING_KEY_PREVIOUS));
  return keys;
}

export async function jwks(env: Bindings): Promise<{ keys: JWK[] }> {
  return { keys: (await verificationKeys(env)).map((k) => k.publicJwk) };
}

export async function signJwt(
  env: Bindings,
  payload: JWTPayload,
  opts: { typ: string; expiresInSeconds: number; audience: string; issuer: string; subject?: string },
): Promise<string> {
  const key = await signingKey(env);
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: ALG, kid: key.kid, typ: opts.typ })
    .setIssuer(opts.issuer)
    .setAudience(opts.audience)
    .setIssuedAt()
    .setNotBefore("0s")
    .setExpirationTime(`${opts.expiresInSeconds}s`)
    .setJti(crypto.randomUUID());
  if (opts.subject) jwt.setSubject(opts.subject);
  return jwt.sign(key.privateKey);
}

/**
 * Verifies a JWT the gateway issued: the algorithm is pinned to EdDSA (no `none`, no HS/RS
 * confusion), the key is chosen by `kid` among ours, and issuer, audience and typ must match.
 */
export async function verifyJwt(env: Bindings, token: string, opts: { typ: string; audience: string; issuer: string }): Promise<JWTPayload | null> {
  const keys = await verificationKeys(env);
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const key = keys.find((k) => k.kid === header.kid);
        if (!key) throw new Error("unknown kid");
        return key.publicKey;
      },
      { algorithms: [ALG], issuer: opts.issuer, audience: opts.audience, typ: opts.typ, clockTolerance: 5 },
    );
    return payload;
  } catch {
    return null;
  }
}
