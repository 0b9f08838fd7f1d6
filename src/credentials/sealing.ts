/**
 * @module The key consumers' upstream credentials are sealed with (ENCRYPTION_KEY, as for the
 * owners' headers), and the row binding of each sealed credential.
 */
import type { CredentialKind } from "../db/schema";
import type { Bindings } from "../shared/bindings";
import { ApiError } from "../shared/errors";

export function sealingKey(env: Bindings): string {
  if (!env.ENCRYPTION_KEY || env.ENCRYPTION_KEY.length < 16) {
    throw new ApiError(500, "server_misconfigured", "The gateway has no ENCRYPTION_KEY secret configured, so it cannot store upstream credentials.");
  }
  return env.ENCRYPTION_KEY;
}

/** The additional data a credential is sealed with: its row, so a copy onto another row does not open. */
export const credentialBinding = (userId: string, serverId: string, kind: CredentialKind) => `${userId}:${serverId}:${kind}`;
