/**
 * @module A consumer connecting their account at an upstream's authorization server: the start
 * (discovery, the gateway's client registration, PKCE S256, a one-use `state`) and the finish
 * (the state consumed by the same signed-in user, the code exchanged, the tokens sealed). Only a
 * hash of the state is stored; the PKCE verifier is sealed bound to it. Pending flows last
 * CONNECT_TTL_MS and a user has at most MAX_PENDING_CONNECTS of them.
 */
import { and, count, eq, gt, lt } from "drizzle-orm";
import { base64url } from "jose";
import { getDb } from "../db/client";
import { servers, upstreamConnectStates } from "../db/schema";
import type { Bindings } from "../shared/bindings";
import { decryptSecret, encryptSecret, sha256Base64url, sha256Hex } from "../shared/crypto";
import { saveTokens } from "./credential-store";
import { discoverAuthServer } from "./discovery";
import type { GuardOptions } from "./guarded-fetch";
import { ensureClient, findClient } from "./registration";
import { sealingKey } from "./sealing";
import { requestTokens, type TokenSet } from "./tokens";

export const CONNECT_TTL_MS = 10 * 60 * 1000;
export const MAX_PENDING_CONNECTS = 20;

/** A connect flow that cannot go on; `message` is safe to show on the page. */
export class ConnectRefused extends Error {}

const random = () => base64url.encode(crypto.getRandomValues(new Uint8Array(32)));

/** Starts a flow for `userId` on `server`; returns the upstream authorization URL to send the browser to. */
export async function startConnect(
  env: Bindings,
  input: { userId: string; server: { id: string; url: string }; origin: string; label: string },
  opts: GuardOptions,
  now = Date.now(),
): Promise<string> {
  const db = getDb(env.DB);
  await db.delete(upstreamConnectStates).where(lt(upstreamConnectStates.expiresAt, now)).run();
  const [pending] = await db
    .select({ n: count() })
    .from(upstreamConnectStates)
    .where(and(eq(upstreamConnectStates.userId, input.userId), gt(upstreamConnectStates.expiresAt, now)));
  if ((pending?.n ?? 0) >= MAX_PENDING_CONNECTS) throw new ConnectRefused("Too many connections are under way for your account; finish or wait for them.");
  const info = await discoverAuthServer(input.server.url, opts);
  const client = await ensureClient(env, input.server.id, info, input.origin, opts);
  const state = random();
  const verifier = random();
  const stateHash = await sha256Hex(state);
  await db.insert(upstreamConnectStates).values({
    stateHash,
    userId: input.userId,
    serverId: input.server.id,
    issuer: info.issuer,
    resource: info.resource,
    verifierEnc: await encryptSecret(sealingKey(env), verifier, stateHash),
    returnLabel: input.label,
    expiresAt: now + CONNECT_TTL_MS,
  });
  const target = new URL(client.authorizationEndpoint);
  const q = target.searchParams;
  q.set("response_type", "code");
  q.set("client_id", client.clientId);
  q.set("redirect_uri", client.redirectUri);
  q.set("code_challenge", await sha256Base64url(verifier));
  q.set("code_challenge_method", "S256");
  q.set("state", state);
  q.set("resource", info.resource);
  if (info.scope) q.set("scope", info.scope);
  return target.toString();
}

export interface Finished {
  serverId: string;
  ownerId: string;
  serverName: string;
  label: string;
  tokens: TokenSet;
}

/**
 * Finishes the flow `state` names, for the user who started it (anyone else's visit leaves it in
 * place); a state is used at most once, and not after CONNECT_TTL_MS. `error` is the
 * authorization server's refusal, if it sent one.
 */
export async function finishConnect(
  env: Bindings,
  input: { userId: string; state: string; code: string | null; iss: string | null; error: string | null },
  opts: GuardOptions,
  now = Date.now(),
): Promise<Finished> {
  const db = getDb(env.DB);
  const stateHash = await sha256Hex(input.state);
  const [flow] = await db
    .delete(upstreamConnectStates)
    .where(and(eq(upstreamConnectStates.stateHash, stateHash), eq(upstreamConnectStates.userId, input.userId)))
    .returning();
  if (!flow) throw new ConnectRefused("This connection attempt is unknown, was already used, or was started by another account.");
  if (flow.expiresAt < now) throw new ConnectRefused("This connection attempt expired; start again.");
  if (input.error) throw new ConnectRefused(`The upstream's authorization server refused: ${input.error.slice(0, 100)}.`);
  // RFC 9207: a response naming another issuer is a mix-up attack.
  if (input.iss !== null && input.iss.replace(/\/$/, "") !== flow.issuer) throw new ConnectRefused("The reply names another authorization server.");
  if (!input.code) throw new ConnectRefused("The upstream's authorization server sent no code.");
  const server = await db.select().from(servers).where(eq(servers.id, flow.serverId)).get();
  if (!server || server.url !== flow.resource) throw new ConnectRefused("The server changed while you were connecting; start again.");
  const client = await findClient(env, flow.serverId, flow.issuer);
  if (!client) throw new ConnectRefused("The gateway's registration at the upstream is gone; start again.");
  const verifier = await decryptSecret(sealingKey(env), flow.verifierEnc, stateHash);
  const tokens = await requestTokens(
    client,
    { grant_type: "authorization_code", code: input.code, redirect_uri: client.redirectUri, code_verifier: verifier, resource: flow.resource },
    { ...opts, now },
  );
  await saveTokens(env, input.userId, flow.serverId, flow.resource, flow.issuer, tokens, now);
  return { serverId: server.id, ownerId: server.ownerId, serverName: server.name, label: flow.returnLabel, tokens };
}
