/**
 * @module Fetches of documents and endpoints an upstream's authorization server names: each URL
 * passes the SSRF guard (shared/url-guard.ts), redirects are refused rather than followed (a
 * redirect could lead past the guard), every exchange has a deadline, and replies are read up to
 * a byte cap. An upstream and its authorization server are not trusted: whatever they answer is
 * parsed with a zod schema by the caller.
 */
import type { Bindings } from "../shared/bindings";
import { readLimitedText } from "../shared/read-limited";
import { checkUpstreamUrl } from "../shared/url-guard";

/** What the OAuth client pieces need of `fetch`; tests and the worker pass the global one. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Largest metadata document or token-endpoint reply read, in bytes. */
export const DOCUMENT_MAX_BYTES = 64 * 1024;
/** Deadline of one exchange with an upstream authorization server, in milliseconds. */
export const EXCHANGE_TIMEOUT_MS = 8_000;

/** A step of upstream authorization that failed; `message` is safe to show to the consumer. */
export class UpstreamAuthError extends Error {
  constructor(
    message: string,
    /** The OAuth error code the authorization server answered, if any (e.g. invalid_grant). */
    readonly oauthError: string | null = null,
  ) {
    super(message);
  }
}

export interface GuardOptions {
  allowInsecure: boolean;
  fetch: FetchLike;
}

export const guardOptions = (env: Bindings, fetchImpl: FetchLike = (input, init) => fetch(input, init)): GuardOptions => ({
  allowInsecure: env.ALLOW_INSECURE_UPSTREAMS === "true",
  fetch: fetchImpl,
});

/** The URL if the guard lets the gateway reach it, else an UpstreamAuthError naming `what`. */
export function guardedUrl(raw: string, what: string, opts: Pick<GuardOptions, "allowInsecure">): URL {
  const check = checkUpstreamUrl(raw, opts);
  if (!check.ok) throw new UpstreamAuthError(`The ${what} URL ${check.reason}.`);
  return check.url;
}

export interface Fetched {
  status: number;
  headers: Headers;
  /** The body, parsed as JSON when it is JSON, else null. */
  json: unknown;
}

/** One guarded exchange: no redirects, a deadline, the reply capped at DOCUMENT_MAX_BYTES. */
export async function guardedFetch(raw: string, what: string, opts: GuardOptions, init: RequestInit = {}): Promise<Fetched> {
  const url = guardedUrl(raw, what, opts);
  let res: Response;
  try {
    res = await opts.fetch(url.toString(), { ...init, redirect: "manual", signal: AbortSignal.timeout(EXCHANGE_TIMEOUT_MS) });
  } catch (e) {
    const timeout = e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
    throw new UpstreamAuthError(timeout ? `The ${what} did not answer in time.` : `The ${what} could not be reached.`);
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel().catch(() => {});
    throw new UpstreamAuthError(`The ${what} answered with a redirect, which the gateway does not follow.`);
  }
  let text: string | null;
  try {
    text = await readLimitedText(res, DOCUMENT_MAX_BYTES);
  } catch {
    throw new UpstreamAuthError(`The ${what}'s reply broke off.`);
  }
  if (text === null) throw new UpstreamAuthError(`The ${what}'s reply is larger than ${DOCUMENT_MAX_BYTES} bytes.`);
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, json };
}
