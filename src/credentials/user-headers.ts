/**
 * @module Checking the header values a consumer sets for a server's per-user headers (bring your
 * own key): only names the server declared (matched case-insensitively, stored under the declared
 * spelling), every declared name, values bounded and free of line breaks. Pure.
 */

/** Longest value of one per-user header, in characters (as the owner's headers). */
export const USER_HEADER_VALUE_MAX = 4096;

export type UserHeadersCheck = { ok: true; headers: Record<string, string> } | { ok: false; field: string; problem: string };

export function checkUserHeaders(declared: readonly string[], given: Record<string, unknown>): UserHeadersCheck {
  if (declared.length === 0) return { ok: false, field: "headers", problem: "this server takes no per-user headers" };
  const byLower = new Map(declared.map((n) => [n.toLowerCase(), n]));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(given)) {
    const canonical = byLower.get(name.toLowerCase());
    const field = `headers.${name}`;
    if (!canonical) return { ok: false, field, problem: `is not a per-user header of this server (it has: ${declared.join(", ")})` };
    if (canonical in headers) return { ok: false, field, problem: "is given twice" };
    if (typeof value !== "string") return { ok: false, field, problem: "must be a string" };
    if (value.length === 0) return { ok: false, field, problem: "must not be empty" };
    if (value.length > USER_HEADER_VALUE_MAX) return { ok: false, field, problem: `must be at most ${USER_HEADER_VALUE_MAX} characters` };
    if (/[\r\n\0]/.test(value)) return { ok: false, field, problem: "may not contain line breaks" };
    headers[canonical] = value;
  }
  const missing = declared.find((n) => !(n in headers));
  if (missing) return { ok: false, field: `headers.${missing}`, problem: "is required" };
  return { ok: true, headers };
}
