/**
 * @module Reads an `application/x-www-form-urlencoded` body with a byte limit: the token and
 * revocation endpoints (16 KiB) and the sign-in and consent forms (64 KiB). A body that is not a
 * form, or too large, is cancelled before the early reply, never buffered whole.
 */
import { readLimitedText } from "../shared/read-limited";

/** Largest body of /oauth/token and /oauth/revoke, in bytes. */
export const TOKEN_FORM_MAX_BYTES = 16 * 1024;
/** Largest body of the sign-in and consent forms, in bytes. */
export const PAGE_FORM_MAX_BYTES = 64 * 1024;

export type FormBody = { ok: true; form: URLSearchParams } | { ok: false; problem: "not_form" | "too_large" };

export async function readFormBody(req: Request, limit: number): Promise<FormBody> {
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(req.headers.get("content-type") ?? "")) {
    await req.body?.cancel().catch(() => {});
    return { ok: false, problem: "not_form" };
  }
  const text = await readLimitedText(req, limit);
  return text === null ? { ok: false, problem: "too_large" } : { ok: true, form: new URLSearchParams(text) };
}
