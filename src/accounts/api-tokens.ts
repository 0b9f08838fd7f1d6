import { randomToken, sha256Hex } from "../shared/ids";

/** Every API token starts with this, so leaked tokens are easy to recognise and scan for. */
export const TOKEN_PREFIX = "mcpg_";

export interface IssuedToken {
  /** The secret, shown to its owner once. */
  token: string;
  /** What the database stores instead of the token. */
  hash: string;
  /** The first characters, safe to show in lists. */
  prefix: string;
}

/** A new API token: 40 random base-36 characters (~206 bits), stored only as its SHA-256. */
export async function issueToken(): Promise<IssuedToken> {
  const token = TOKEN_PREFIX + randomToken(40);
  return { token, hash: await hashToken(token), prefix: token.slice(0, TOKEN_PREFIX.length + 6) };
}

/**
 * Tokens carry enough entropy that a fast hash is safe: no one can brute-force 206 bits, so a
 * slow KDF would only add latency to every authenticated request.
 */
export function hashToken(token: string): Promise<string> {
  return sha256Hex(token);
}

export function looksLikeApiToken(value: string): boolean {
  return value.startsWith(TOKEN_PREFIX) && value.length === TOKEN_PREFIX.length + 40;
}
