/** @module Newline-delimited JSON (https://github.com/ndjson/ndjson-spec), what SIEM tools ingest. */
export const NDJSON_TYPE = "application/x-ndjson; charset=utf-8";

/**
 * One JSON text per line, each line ending in "\n". JSON.stringify escapes newlines inside strings,
 * so a value never spans lines; U+2028 and U+2029 are escaped too, for readers that split on them.
 */
export function toNdjson(items: readonly unknown[]): string {
  let out = "";
  for (const item of items)
    out += `${JSON.stringify(item)
      .replace(/\u2028/g, "\\u2028")
      .replace(/\u2029/g, "\\u2029")}\n`;
  return out;
}

/** The values of an NDJSON text (blank lines ignored). */
export function parseNdjson(text: string): unknown[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as unknown);
}
