/**
 * @module The hook the preset's Durable Object calls before an upstream request: which headers to
 * add for this caller (their OAuth token, their own header values) and until when they hold. A
 * caller without what the server needs gets {@link CredentialsRequired}, which
 * {@link credentialsRequiredError} turns into a JSON-RPC error pointing at the connect page.
 *
 * Credentials are used only for the upstream URL they were given for: after the owner moves the
 * server elsewhere, each consumer connects again. Tokens within REFRESH_MARGIN_MS of expiry are
 * refreshed first (credential-store.ts makes concurrent refreshes one).
 */
import type { PresetServer } from "../preset/config";
import type { Bindings } from "../shared/bindings";
import { UpstreamFailure } from "../upstream/client";
import {
  type CredentialRow,
  claimRefresh,
  deleteIfUnchanged,
  findCredentials,
  openOAuth,
  openUserHeaders,
  releaseRefresh,
  storeRefreshed,
} from "./credential-store";
import { guardOptions, UpstreamAuthError } from "./guarded-fetch";
import { findClient } from "./registration";
import { requestTokens } from "./tokens";

/** Tokens this close to expiry are refreshed before use. */
export const REFRESH_MARGIN_MS = 60_000;
/** How long a caller waits for another's refresh of an expired token before giving up. */
const REFRESH_WAIT_MS = 5_000;
const REFRESH_POLL_MS = 100;
/** The JSON-RPC code for clients that cannot take a URL elicitation (implementation-defined range). */
export const CREDENTIALS_REQUIRED_CODE = -32005;
/** URLElicitationRequiredError (MCP 2025-11-25). */
export const URL_ELICITATION_REQUIRED_CODE = -32042;

/** Headers to add for this caller on requests to this upstream, and until when they are good (ms epoch) or null. */
export interface CallerIdentity {
  headers: Record<string, string>;
  expiresAt: number | null;
}

/** The caller must connect (or sign in) first. connectUrl: absolute URL of the /connect page, null for anonymous callers. */
export class CredentialsRequired extends Error {
  constructor(
    readonly server: string,
    readonly connectUrl: string | null,
    message: string,
  ) {
    super(message);
    this.name = "CredentialsRequired";
  }
}

/** Whether a server's calls need the caller's own credentials (auth oauth, or any perUser header). */
export function needsCallerCredentials(server: { auth: "owner" | "oauth"; userHeaders: readonly string[] }): boolean {
  return server.auth === "oauth" || server.userHeaders.length > 0;
}

/** The absolute URL of the page where a consumer connects `server` of the preset. */
export function connectPageUrl(connect: { origin: string; handle: string; slug: string }, server: string): string {
  return `${connect.origin}/connect/${connect.handle}/${connect.slug}/${encodeURIComponent(server)}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A usable access token for `row`, refreshed first when near expiry; throws `required()` when there is none. */
async function accessToken(env: Bindings, server: PresetServer, first: CredentialRow, required: (why: string) => CredentialsRequired) {
  let row: CredentialRow | undefined = first;
  const deadline = Date.now() + REFRESH_WAIT_MS;
  while (row) {
    const now = Date.now();
    const secret = await openOAuth(env, row);
    const valid = row.expiresAt === null || row.expiresAt > now;
    if (row.expiresAt === null || row.expiresAt - now > REFRESH_MARGIN_MS) return { token: secret.accessToken, expiresAt: row.expiresAt };
    if (!secret.refreshToken) {
      if (valid) return { token: secret.accessToken, expiresAt: row.expiresAt };
      await deleteIfUnchanged(env, row);
      throw required("your connection expired");
    }
    if (await claimRefresh(env, row, now)) {
      const client = row.issuer ? await findClient(env, server.id, row.issuer) : null;
      if (!client) {
        await deleteIfUnchanged(env, row);
        throw required("the gateway's registration at the upstream's authorization server is gone");
      }
      try {
        const tokens = await requestTokens(
          client,
          { grant_type: "refresh_token", refresh_token: secret.refreshToken, resource: row.resource },
          guardOptions(env),
          { accessToken: secret.accessToken, refreshToken: secret.refreshToken, expiresAt: row.expiresAt, scope: row.scope },
        );
        if (await storeRefreshed(env, row, tokens)) return { token: tokens.accessToken, expiresAt: tokens.expiresAt };
      } catch (e) {
        if (e instanceof UpstreamAuthError && (e.oauthError === "invalid_grant" || e.oauthError === "invalid_client")) {
          await deleteIfUnchanged(env, row);
          throw required("the upstream no longer accepts your connection");
        }
        await releaseRefresh(env, row);
        if (valid) return { token: secret.accessToken, expiresAt: row.expiresAt };
        throw new UpstreamFailure(
          server.name,
          "unreachable",
          `Your credentials for '${server.name}' could not be refreshed: ${e instanceof Error ? e.message : "unknown error"}`,
        );
      }
    } else if (valid) {
      return { token: secret.accessToken, expiresAt: row.expiresAt };
    } else if (Date.now() > deadline) {
      throw new UpstreamFailure(server.name, "timeout", `Your credentials for '${server.name}' are being refreshed; try again.`);
    } else {
      await sleep(REFRESH_POLL_MS);
    }
    row = (await findCredentials(env, row.userId, row.serverId)).find((r) => r.kind === "oauth");
  }
  throw required("you disconnected it");
}

/** Resolves (and refreshes when < 60 s from expiry) the caller's credentials; throws CredentialsRequired. */
export async function callerCredentials(
  env: Bindings,
  server: PresetServer,
  userId: string | null,
  connect: { origin: string; handle: string; slug: string },
): Promise<CallerIdentity> {
  if (!needsCallerCredentials(server)) return { headers: {}, expiresAt: null };
  if (userId === null) {
    throw new CredentialsRequired(
      server.name,
      null,
      `The server '${server.name}' is called with each caller's own credentials: authenticate to the gateway (OAuth or an API token), then connect it.`,
    );
  }
  const url = connectPageUrl(connect, server.name);
  const required = (why: string) =>
    new CredentialsRequired(server.name, url, `The server '${server.name}' needs your own credentials (${why}): connect it at ${url}`);
  const rows = (await findCredentials(env, userId, server.id)).filter((r) => r.resource === server.url);
  const headers: Record<string, string> = {};
  let expiresAt: number | null = null;
  try {
    if (server.userHeaders.length > 0) {
      const row = rows.find((r) => r.kind === "headers");
      if (!row) throw required(`set your ${server.userHeaders.join(", ")}`);
      const values = await openUserHeaders(env, row);
      for (const name of server.userHeaders) {
        const value = values[name];
        if (value === undefined) throw required(`set your ${name}`);
        headers[name] = value;
      }
    }
    if (server.auth === "oauth") {
      const row = rows.find((r) => r.kind === "oauth");
      if (!row) throw required("not connected");
      const t = await accessToken(env, server, row, required);
      headers.Authorization = `Bearer ${t.token}`;
      expiresAt = t.expiresAt;
    }
  } catch (e) {
    if (e instanceof CredentialsRequired || e instanceof UpstreamFailure) throw e;
    // A row that does not open (key changed, tampered): as good as none.
    console.error("caller credentials could not be opened", server.name, e instanceof Error ? e.message : e);
    throw required("your stored credentials could not be read");
  }
  return { headers, expiresAt };
}

/**
 * The JSON-RPC error for a CredentialsRequired. A client that declared `elicitation.url` gets
 * URLElicitationRequiredError (-32042, MCP 2025-11-25) with one URL elicitation to open; the spec
 * sends URL elicitations only to clients that declared them, so every other client gets
 * CREDENTIALS_REQUIRED_CODE with the connect URL in the message (for a human to open) and in
 * `data.connectUrl` (for code).
 */
export function credentialsRequiredError(
  e: CredentialsRequired,
  clientCapabilities: Record<string, unknown>,
): { code: number; message: string; data: Record<string, unknown> } {
  const elicitation = clientCapabilities.elicitation;
  const urlMode = !!elicitation && typeof elicitation === "object" && !!(elicitation as Record<string, unknown>).url;
  if (urlMode && e.connectUrl) {
    return {
      code: URL_ELICITATION_REQUIRED_CODE,
      message: e.message,
      data: {
        elicitations: [{ mode: "url", elicitationId: crypto.randomUUID(), url: e.connectUrl, message: `Connect your account for '${e.server}'.` }],
        server: e.server,
        connectUrl: e.connectUrl,
      },
    };
  }
  return { code: CREDENTIALS_REQUIRED_CODE, message: e.message, data: { server: e.server, connectUrl: e.connectUrl } };
}
