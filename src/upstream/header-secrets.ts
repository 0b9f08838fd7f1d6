/**
 * @module Upstream servers' secret headers, sealed at rest bound to their server id and opened for
 * connections.
 */
import type { servers } from "../db/schema";
import type { Bindings } from "../shared/bindings";
import { decryptSecret, encryptSecret } from "../shared/crypto";
import { ApiError } from "../shared/errors";

function requireKey(env: Bindings): string {
  if (!env.ENCRYPTION_KEY || env.ENCRYPTION_KEY.length < 16) {
    throw new ApiError(500, "server_misconfigured", "The gateway has no ENCRYPTION_KEY secret configured, so it cannot store upstream headers.");
  }
  return env.ENCRYPTION_KEY;
}

/** Seals a server's headers for the `headers_enc` column, bound to the server's id. */
export async function sealHeaders(env: Bindings, serverId: string, headers: Record<string, string>) {
  const names = Object.keys(headers);
  if (names.length === 0) return { headersEnc: null, headerNames: "[]" };
  return { headersEnc: await encryptSecret(requireKey(env), JSON.stringify(headers), serverId), headerNames: JSON.stringify(names) };
}

export async function openHeaders(env: Bindings, row: Pick<typeof servers.$inferSelect, "id" | "headersEnc">): Promise<Record<string, string>> {
  if (!row.headersEnc) return {};
  const parsed: unknown = JSON.parse(await decryptSecret(requireKey(env), row.headersEnc, row.id));
  if (!parsed || typeof parsed !== "object") throw new Error("decrypted headers are not an object");
  return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === "string"));
}
