import type { Context, MiddlewareHandler } from "hono";
import { resolveApiToken } from "../accounts/api-tokens";
import { bearerToken } from "../accounts/credentials";
import type { Caller, PresetRef } from "../mcp/contract";
import { RpcCode } from "../mcp/jsonrpc";
import { ACCESS_TOKEN_TYP } from "../oauth/grants";
import { verifyJwt } from "../oauth/keys";
import { bearerChallenge, presetResource } from "../oauth/metadata";
import { clientAddress } from "../shared/client-address";
import { publicUrl } from "../shared/public-url";
import type { AppEnv } from "./app-env";
import { presetStub } from "./preset-stub";
import { jsonRpcError } from "./rpc-error";

/**
 * @module Who is calling a preset's MCP endpoint: anonymous, an API token's user (one D1 read,
 * so revocation is immediate), or an OAuth access token's subject (verified here, no storage
 * read: signature with the pinned algorithm, issuer, audience = exactly this preset, expiry).
 * A bad token is a 401, never a silent downgrade to anonymous.
 */

/** The caller middleware runs after the request checks, which put the preset the path names on the context. */
export type CallerEnv = AppEnv & { Variables: { preset: PresetRef } };

/** The user (and grant) a bearer token stands for on this preset, or null when it stands for none. */
async function identify(c: Context<CallerEnv>, token: string, issuer: string): Promise<Omit<Caller, "ip"> | null> {
  const { handle, slug } = c.var.preset;
  if (token.split(".").length === 3) {
    const claims = await verifyJwt(c.env, token, { typ: ACCESS_TOKEN_TYP, issuer, audience: presetResource(issuer, handle, slug) });
    if (claims?.sub && typeof claims.gid === "string") return { userId: claims.sub, grantId: claims.gid };
  } else if (token) {
    const userId = await resolveApiToken(c.env.DB, token, (p) => c.executionCtx.waitUntil(p));
    if (userId) return { userId, grantId: null };
  }
  return null;
}

/** Sets `c.var.caller`, or answers 401 for a token that is not valid for this preset. */
export const authenticateCaller: MiddlewareHandler<CallerEnv> = async (c, next) => {
  const ip = clientAddress(c.req.raw, c.env);
  const token = bearerToken(c.req.header("authorization"));
  if (token === null) {
    c.set("caller", { userId: null, grantId: null, ip });
    return next();
  }
  const issuer = publicUrl(c);
  const who = await identify(c, token, issuer);
  if (who) {
    c.set("caller", { ...who, ip });
    return next();
  }
  const { handle, slug } = c.var.preset;
  // The preset's object keeps the audit trail of auth failures (capped per caller and minute).
  c.executionCtx.waitUntil(
    presetStub(c.env, handle, slug)
      .recordAuthFailure({ handle, slug, userId: null, ip, status: 401, method: c.req.method, message: "invalid bearer token" })
      .catch((e: unknown) => console.error("auth failure not recorded", e)),
  );
  return jsonRpcError(401, null, RpcCode.Unauthorized, "The bearer token is not valid for this preset.", {
    "www-authenticate": bearerChallenge(issuer, handle, slug, "invalid_token"),
  });
};
