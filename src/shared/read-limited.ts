/**
 * @module Reads a request or response body up to a byte limit, refusing larger ones before they
 * are buffered, and disposes of what a request's handler left unread.
 */
/** A request or response: what a capped read needs of either. */
export interface Body {
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
  text(): Promise<string>;
}

/**
 * What to do with the rest of a body found too large: `cancel` it (a response from an upstream:
 * stop the transfer), or `leave` it unlocked for {@link discardBody} (a request: the client is
 * still sending, see there).
 */
export type Overflow = "cancel" | "leave";

/**
 * The body as text, or null as soon as it is found to exceed `limit` bytes (declared or not,
 * declared honestly or not): request bodies, client metadata documents and upstream replies all
 * go through here. A declared length within the limit is enforced by HTTP framing, so it is read
 * natively (several times cheaper than chunk by chunk). Read errors propagate.
 */
export async function readLimitedText(message: Body, limit: number, overflow: Overflow = "cancel"): Promise<string | null> {
  const declared = Number(message.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) {
    if (overflow === "cancel") await message.body?.cancel().catch(() => {});
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
      if (overflow === "cancel") await reader.cancel().catch(() => {});
      else reader.releaseLock();
      return null;
    }
    text += decoder.decode(value, { stream: true });
  }
}

/** Request bytes read and thrown away after an early reply, at most; a longer body is cancelled instead. */
export const DISCARD_LIMIT = 8 * 1024 * 1024;

/**
 * Reads what is left of a request body and throws it away (up to `limit` bytes; past that, or
 * for a longer declared length, cancels it). Answering while the client is still sending and
 * cancelling the body makes some HTTP stacks fail the exchange: under `wrangler dev` a Node
 * `fetch` client then gets 503 "worker restarted mid-request" about half the time instead of the
 * 413 it was sent. A body already read, locked or absent is left alone.
 */
export async function discardBody(message: Body, limit = DISCARD_LIMIT): Promise<void> {
  const body = message.body;
  if (!body || body.locked) return;
  const declared = Number(message.headers.get("content-length") ?? "NaN");
  try {
    if (Number.isFinite(declared) && declared > limit) {
      await body.cancel();
      return;
    }
    const reader = body.getReader();
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        return;
      }
    }
  } catch {
    // A client that went away: nothing left to dispose of.
  }
}
