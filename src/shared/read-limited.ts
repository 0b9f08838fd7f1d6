/**
 * @module Reads a request or response body up to a byte limit, refusing larger ones before they
 * are buffered.
 */
/** A request or response: what a capped read needs of either. */
export interface Body {
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
  text(): Promise<string>;
}

/**
 * The body as text, or null as soon as it is found to exceed `limit` bytes (declared or not,
 * declared honestly or not): request bodies, client metadata documents and upstream replies all
 * go through here. A declared length within the limit is enforced by HTTP framing, so it is read
 * natively (several times cheaper than chunk by chunk). Read errors propagate.
 */
export async function readLimitedText(message: Body, limit: number): Promise<string | null> {
  const declared = Number(message.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) {
    await message.body?.cancel().catch(() => {});
    return null;
  }
  if (!message.body) return "";
  if (Number.isFinite(declared)) return message.text();
  const reader = message.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    text += decoder.decode(value, { stream: true });
  }
}
