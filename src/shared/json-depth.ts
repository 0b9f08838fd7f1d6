/**
 * @module How deeply a JSON text nests, found without parsing it. Pure.
 *
 * JSON.parse itself copes with deep nesting, but what comes after does not: structured clone
 * into a Durable Object, JSON.stringify, schema validators and audit writers all recurse, and a
 * 200,000-deep array overflows the stack in one of them as a 500. A limit checked on the text,
 * before parsing, turns that into the client error it is.
 */

/** Deepest nesting accepted in a request body: far beyond any real tool arguments or API body. */
export const MAX_JSON_DEPTH = 128;

/** Whether `text` opens more than `max` arrays/objects inside one another (brackets in strings do not count). */
export function jsonNestsDeeper(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c)
        i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > max) return true;
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return false;
}
