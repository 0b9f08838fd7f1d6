/**
 * @module Multi round-trip requests (MRTR, 2026-07-28) for a modern-era client whose tools/call
 * reached an upstream that asks the client something mid-call (`sampling/createMessage`,
 * `elicitation/create`, `roots/list` — a legacy upstream's server-to-client requests). A modern
 * client cannot be sent requests, so the gateway answers its tools/call with
 * `resultType: "input_required"`: the upstream's requests as `inputRequests` and a `requestState`,
 * while the upstream call stays open in the preset's Durable Object (a ParkedCall). The client
 * retries the call under a new id with `inputResponses` and that `requestState`; the gateway
 * answers the upstream and waits for what comes next: another round, or the call's answer.
 *
 * A `requestState` is a random handle (32 base-36 characters, about 165 bits) the object issued, not a signed blob: it names a
 * parked call only this object holds, bound to the caller that made the call (principal and caller
 * key), to the tool and its arguments, and it is good for one retry (every round issues a new one)
 * within INPUT_WAIT_MS. So it cannot be forged, replayed, or presented by another caller or for
 * another request; an object restart forgets parked calls, and their states with them.
 */
import { type RpcId, rpcResultBody } from "../mcp/jsonrpc";
import { randomToken } from "../shared/ids";
import type { CallRelay } from "./call-relay";

/** How long a parked call waits for the client's retry before it is cancelled upstream. */
export const INPUT_WAIT_MS = 5 * 60_000;
/** Calls one caller may have parked on a preset at once, and the preset in all; past them the upstream's request is refused. */
export const PARKED_PER_CALLER = 50;
export const PARKED_PER_PRESET = 1_000;

interface InputRequest {
  method: string;
  params: unknown;
}

/** JSON with object keys sorted, so two serializations of the same arguments compare equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** `body` (a serialized reply to request `from`) as the reply to request `to`. */
export function reIdentified(body: string, from: RpcId, to: RpcId): string {
  const head = `{"jsonrpc":"2.0","id":${JSON.stringify(from)},`;
  return body.startsWith(head) ? `{"jsonrpc":"2.0","id":${JSON.stringify(to)},${body.slice(head.length)}` : body;
}

/** One tools/call of a modern client, kept open upstream while the client gathers input. */
export class ParkedCall {
  /** Who may retry it: the caller's principal and caller key. */
  readonly owner: string;
  readonly tool: string;
  readonly argsKey: string;
  /** The id of the client request the final answer was serialized for. */
  readonly firstId: RpcId;
  relay: CallRelay | null = null;
  /** The requestState of the round the client holds now (null while none is out). */
  state: string | null = null;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Input requests from the upstream not yet put to the client, by the key the client will see. */
  readonly #queue = new Map<string, InputRequest>();
  /** Put to the client in the current round and not answered yet. */
  readonly #asked = new Map<string, InputRequest>();
  #final: string | null = null;
  #wake: (() => void) | null = null;

  /** Cancels the call upstream (the client did not come back in time). */
  readonly abort: () => void;

  constructor(owner: string, tool: string, args: unknown, firstId: RpcId, abort: () => void) {
    this.abort = abort;
    this.owner = owner;
    this.tool = tool;
    this.argsKey = canonicalJson(args ?? {});
    this.firstId = firstId;
  }

  /** The upstream asked the client something (the relay's key for it is the gateway's request id). */
  push(key: string, method: string, params: unknown): void {
    this.#queue.set(key, { method, params });
    this.#wake?.();
  }

  /** The upstream call ended: `body` is its answer to the first request. */
  finish(body: string): void {
    this.#final = body;
    this.#wake?.();
  }

  get finished(): boolean {
    return this.#final !== null;
  }

  /** Waits until there is something to tell the client: input to ask for, or the answer. */
  async settled(): Promise<void> {
    while (this.#queue.size === 0 && this.#final === null) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = null;
    }
  }

  /**
   * The client's answers to the current round: each goes to the upstream under its request's id;
   * a question left unanswered is asked again in the next round (unknown keys are ignored).
   */
  answer(responses: Record<string, unknown>): void {
    for (const [key, request] of this.#asked) {
      if (key in responses) this.relay?.answer(key, { result: responses[key] ?? {} });
      else this.#queue.set(key, request);
    }
    this.#asked.clear();
  }

  /** The reply to client request `id` now: the call's answer, or the next input_required round (with a new requestState). */
  reply(id: RpcId): string {
    if (this.#final !== null && this.#queue.size === 0) return reIdentified(this.#final, this.firstId, id);
    const inputRequests: Record<string, InputRequest> = {};
    for (const [key, request] of this.#queue) {
      inputRequests[key] = request;
      this.#asked.set(key, request);
    }
    this.#queue.clear();
    this.state = `mrtr_${randomToken(32)}`;
    return rpcResultBody(id, { resultType: "input_required", inputRequests, requestState: this.state });
  }
}
