/**
 * @module One SSE stream to a client, logged first so it can be resumed with Last-Event-ID.
 *
 * The SSE framing (`id:`, `data:`, `retry:`) is written here rather than with hono's streamSSE:
 * the stream is produced inside the Durable Object, which has no Hono context, and crosses to the
 * worker over RPC as a plain ReadableStream; every event is also written to the event log first.
 */
import { eventId, type SseEventLog } from "./sse-event-log";

/** How soon a client should reconnect after the gateway closes a stream (SSE `retry`). */
export const SSE_RETRY_MS = 500;

const encoder = new TextEncoder();

/**
 * One SSE stream to a client: a POST's reply or a session's standalone GET stream. Every event goes
 * to the event log first, then to the client if it is connected, so a client that reconnects with
 * Last-Event-ID gets exactly what it missed. The stream outlives connections: the gateway may close
 * the connection (polling) or the client may drop it, and a later GET resumes the same stream.
 */
export class ClientStream {
  readonly id: string;
  readonly sessionId: string;
  readonly #log: SseEventLog;
  /** Send an empty event with an id and `retry` first (2025-11-25 clients: SEP-1699 priming). */
  readonly #priming: boolean;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #done = false;
  #connections = 0;
  /** When the last connection ended (null while one is open). */
  detachedAt: number | null = Date.now();
  /** Told when the client drops its connection (not when the gateway closes it): a modern-era request's stream closing is its cancellation. */
  onGone: (() => void) | null = null;

  constructor(log: SseEventLog, id: string, sessionId: string, priming: boolean) {
    this.#log = log;
    this.id = id;
    this.sessionId = sessionId;
    this.#priming = priming;
  }

  get connected(): boolean {
    return this.#writer !== null;
  }

  /** Counts connections, so a timer can tell whether the one it was set for is still the current one. */
  get connection(): number {
    return this.#connections;
  }

  get done(): boolean {
    return this.#done;
  }

  /**
   * A new connection to this stream; any earlier one is closed. Fresh (`afterSeq` null): starts with
   * the priming event. Resumed: replays the logged events after `afterSeq`. Returns the body to send.
   */
  connect(afterSeq: number | null, done = this.#done): ReadableStream<Uint8Array> {
    this.disconnect();
    const { readable, writable } = new IdentityTransformStream();
    const writer = writable.getWriter();
    this.#writer = writer;
    // The client cancelled the body: the writer errors (a close of ours resolves it instead).
    writer.closed.catch(() => this.#gone(writer));
    this.#connections++;
    this.detachedAt = null;
    if (afterSeq === null) {
      if (this.#priming) this.#write(`id: ${eventId(this.id, 0)}\nretry: ${SSE_RETRY_MS}\ndata: \n\n`);
    } else {
      for (const e of this.#log.after(this.id, afterSeq)) this.#write(frame(e.id, e.data));
    }
    if (done) {
      this.#done = true;
      this.disconnect();
    }
    return readable;
  }

  /** Logs one JSON-RPC message and sends it if the client is connected. */
  send(data: string): void {
    if (this.#done) return;
    const id = this.#log.append(this.id, data);
    this.#write(frame(id, data));
  }

  /** Sends the last message (a call's answer) and closes the stream for good. */
  end(data: string | null): void {
    if (this.#done) return;
    if (data !== null) this.send(data);
    this.#done = true;
    this.#log.finish(this.id);
    this.disconnect();
  }

  /** An SSE comment line (not logged): keeps a quiet stream open through intermediaries, and finds out whether the client is still there. */
  keepAlive(): void {
    this.#write(":\n\n");
  }

  /** Closes the current connection; the stream goes on (the client may resume it). */
  disconnect(): void {
    const writer = this.#writer;
    if (!writer) return;
    this.#writer = null;
    this.detachedAt = Date.now();
    writer.close().catch(() => {});
  }

  #write(text: string): void {
    const writer = this.#writer;
    if (!writer) return;
    // Not awaited: the writer queues in order. A failed write means the client went away.
    writer.write(encoder.encode(text)).catch(() => this.#gone(writer));
  }

  #gone(writer: WritableStreamDefaultWriter<Uint8Array>): void {
    if (this.#writer !== writer) return;
    this.#writer = null;
    this.detachedAt = Date.now();
    this.onGone?.();
  }
}

const frame = (id: string, data: string) => `id: ${id}\ndata: ${data}\n\n`;
