/**
 * @module What an upstream sends on a tools/call's reply stream besides the answer, relayed to the client
 * that made the call:
 * - `notifications/progress` for the call, with the client's own progress token (the upstream saw
 *   one the gateway made up, so two clients' tokens never collide on the shared upstream session);
 * - `notifications/message` log lines, at or above the level the client set;
 * - requests to the client (`sampling/createMessage`, `elicitation/create`, `roots/list`) if the
 *   client declared the capability, under an id the gateway made up; the client's answer is routed
 *   back by `SessionStreams.answer`. Without the capability the upstream gets an error at once;
 * - `notifications/cancelled` for such a request, with the gateway's id.
 *
 * The reply to the client stays plain JSON until the first message needs relaying; then it becomes
 * an SSE stream (`opened` resolves with its body) that ends with the answer.
 */

import { RpcCode, type RpcId } from "../mcp/jsonrpc";
import type { ClientStream } from "../streaming/client-stream";
import type { Deadline } from "../upstream/deadline";

export interface RelayHost {
  /** Starts the SSE reply stream of this call. */
  openStream(): ClientStream;
  /** Registers a request relayed to the client; returns the id the client sees. */
  registerRequest(relay: CallRelay, upstreamId: RpcId): string;
  forgetRequest(gatewayId: string): void;
  /** Sends a message (an answer to one of its requests) to the upstream of this call. */
  respondUpstream(message: Record<string, unknown>): void;
  /** Whether a log line of this level reaches the client. */
  wantsLog(level: unknown): boolean;
  /** Notifications that are not about this call (list_changed, resources/updated). */
  onOtherNotification(message: Record<string, unknown>): void;
}

export interface RelayOptions {
  /** The client's capabilities from initialize. */
  capabilities: Record<string, unknown>;
  /** The client's `_meta.progressToken`, and the one sent upstream in its place. */
  progressToken?: { client: string | number; upstream: string };
  deadline: Deadline;
  /** The session speaks 2025-11-25: the gateway may close the stream and let it resume (polling). */
  polling: boolean;
  /**
   * A modern-era client (2026-07-28) is asked through input_required results, not requests on its
   * stream: requests the client declared capabilities for go here instead (input-rounds.ts).
   * False: none can be held now (too many parked calls), and the upstream is refused.
   */
  collect?: (gatewayId: string, method: string, params: unknown) => boolean;
}

const CAPABILITY_OF: Record<string, string> = {
  "sampling/createMessage": "sampling",
  "elicitation/create": "elicitation",
  "roots/list": "roots",
};

export class CallRelay {
  readonly opened: Promise<ReadableStream<Uint8Array>>;
  readonly #host: RelayHost;
  readonly #opts: RelayOptions;
  #open!: (body: ReadableStream<Uint8Array>) => void;
  #stream: ClientStream | null = null;
  /** Requests relayed to the client and not answered yet: gateway id → upstream id. */
  readonly #pending = new Map<string, RpcId>();
  #finished = false;
  /** The client's reply went out (an input_required round): nothing more is sent on a stream. */
  #detached = false;

  constructor(host: RelayHost, opts: RelayOptions) {
    this.#host = host;
    this.#opts = opts;
    this.opened = new Promise((resolve) => {
      this.#open = resolve;
    });
  }

  /** True once the reply became an SSE stream. */
  get streaming(): boolean {
    return this.#stream !== null;
  }

  /** One message from the upstream on the call's stream. */
  onMessage(m: Record<string, unknown>): void {
    if (this.#finished) return;
    const method = typeof m.method === "string" ? m.method : null;
    if (!method) return; // a stray response: nothing asked for it
    if ("id" in m && (typeof m.id === "string" || typeof m.id === "number")) {
      this.#onRequest(method, m.id, m.params);
      return;
    }
    const params = (m.params ?? {}) as Record<string, unknown>;
    switch (method) {
      case "notifications/progress": {
        const token = this.#opts.progressToken;
        if (!token || params.progressToken !== token.upstream) return;
        this.#opts.deadline.touch(); // progress is the upstream saying it is still at work
        this.#send({ jsonrpc: "2.0", method, params: { ...params, progressToken: token.client } });
        return;
      }
      case "notifications/message":
        if (this.#host.wantsLog(params.level)) this.#send({ jsonrpc: "2.0", method, params });
        return;
      case "notifications/cancelled": {
        const gatewayId = [...this.#pending].find(([, upstreamId]) => upstreamId === params.requestId)?.[0];
        if (gatewayId === undefined) return;
        this.#settled(gatewayId);
        this.#send({ jsonrpc: "2.0", method, params: { ...params, requestId: gatewayId } });
        return;
      }
      default:
        this.#host.onOtherNotification(m);
    }
  }

  /** The upstream closed its stream to resume it later: a polling client gets the same treatment. */
  onPause(): void {
    if (!this.#opts.polling || this.#finished) return;
    this.#ensureStream().disconnect();
  }

  /** The client's answer to one of the relayed requests: sent upstream under the upstream's id. */
  answer(gatewayId: string, response: { result?: unknown; error?: unknown }): void {
    const upstreamId = this.#pending.get(gatewayId);
    if (upstreamId === undefined) return;
    this.#settled(gatewayId);
    const outcome = "error" in response && response.error !== undefined ? { error: response.error } : { result: response.result ?? {} };
    this.#host.respondUpstream({ jsonrpc: "2.0", id: upstreamId, ...outcome });
  }

  /**
   * The client's request is answered before the call ends (an input_required round): `body` ends
   * the reply stream if there is one (returns whether it did); from now on nothing is streamed.
   */
  detach(body: string): boolean {
    this.#detached = true;
    const stream = this.#stream;
    if (!stream) return false;
    stream.end(body);
    return true;
  }

  /** The call is over: `body` is its serialized answer. Returns whether it went out on the stream. */
  finish(body: string): boolean {
    if (this.#finished) return this.#stream !== null;
    this.#finished = true;
    for (const gatewayId of [...this.#pending.keys()]) {
      // The upstream no longer waits for these: tell the client to stop working on them.
      this.#settled(gatewayId);
      this.#send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: gatewayId, reason: "The tool call ended." } }, false);
    }
    if (!this.#stream || this.#detached) return false;
    this.#stream.end(body);
    return true;
  }

  #onRequest(method: string, upstreamId: RpcId, params: unknown): void {
    if (method === "ping") {
      this.#host.respondUpstream({ jsonrpc: "2.0", id: upstreamId, result: {} });
      return;
    }
    const capability = CAPABILITY_OF[method];
    if (!capability) {
      this.#refuse(upstreamId, RpcCode.MethodNotFound, `Method not found: ${method}`);
      return;
    }
    const declared = this.#opts.capabilities[capability] as Record<string, unknown> | undefined;
    const urlMode = method === "elicitation/create" && (params as { mode?: unknown } | undefined)?.mode === "url";
    if (!declared || typeof declared !== "object" || (urlMode && !declared.url)) {
      this.#refuse(upstreamId, RpcCode.MethodNotFound, `The client did not declare the ${urlMode ? "elicitation.url" : capability} capability.`);
      return;
    }
    const gatewayId = this.#host.registerRequest(this, upstreamId);
    this.#pending.set(gatewayId, upstreamId);
    this.#opts.deadline.hold();
    if (!this.#opts.collect) this.#send({ jsonrpc: "2.0", id: gatewayId, method, ...(params === undefined ? {} : { params }) });
    else if (!this.#opts.collect(gatewayId, method, params)) {
      this.#settled(gatewayId);
      this.#refuse(upstreamId, RpcCode.InternalError, "The gateway holds too many calls waiting for their clients' input; try again later.");
    }
  }

  #refuse(upstreamId: RpcId, code: number, message: string): void {
    this.#host.respondUpstream({ jsonrpc: "2.0", id: upstreamId, error: { code, message } });
  }

  #settled(gatewayId: string): void {
    if (!this.#pending.delete(gatewayId)) return;
    this.#host.forgetRequest(gatewayId);
    this.#opts.deadline.release();
  }

  #send(message: Record<string, unknown>, open = true): void {
    if (this.#detached || (!this.#stream && !open)) return;
    this.#ensureStream().send(JSON.stringify(message));
  }

  #ensureStream(): ClientStream {
    if (!this.#stream) {
      this.#stream = this.#host.openStream();
      this.#open(this.#stream.connect(null));
    }
    return this.#stream;
  }
}
