/** @module What a request presents as a credential: a bearer token, which may be the bootstrap admin token. */
import { timingSafeEqual } from "../shared/crypto";

/** The bearer credential of an Authorization header, or null when there is none ("" when malformed). */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return m ? (m[1] ?? null) : "";
}

export function isAdminToken(token: string, adminToken: string | undefined): boolean {
  return !!adminToken && adminToken.length >= 16 && timingSafeEqual(token, adminToken);
}
