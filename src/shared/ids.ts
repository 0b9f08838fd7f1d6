/** @module Random identifiers: opaque ids, session ids, token secrets. */
const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** Random string of `length` characters from [0-9a-z], from the platform CSPRNG. */
export function randomToken(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const b of bytes) out += ALPHABET[b % 36];
  return out;
}

/**
 * Opaque, roughly time-ordered id such as `prs_0lq3z8k2m9x4c7v1b5n6`. The time prefix keeps
 * B-tree inserts local and lets cursors sort by id within the same millisecond.
 */
export function newId(prefix: string, now = Date.now()): string {
  return `${prefix}_${now.toString(36).padStart(9, "0")}${randomToken(12)}`;
}
