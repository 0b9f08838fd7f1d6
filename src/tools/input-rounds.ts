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
import { type RpcId, replyHead, rpcResultBody } from "../mcp/jsonrpc";
import { randomToken } from "../shared/ids";
import type { CallRelay } from "./call-relay";

/** What a retry whose requestState names nothing of this caller's is told (-32602). */
export const UNKNOWN_REQUEST_STATE = "params.requestState is not one this preset issued to you: it may have expired or been used already.";

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
  const head = replyHead(from);
  return body.startsWith(head) ? `${replyHead(to)}${body.slice(head.length)}` : body;
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

/** A modern upstream's round out with a modern client: the upstream's state and whom it is for. */
interface PassedRound {
  server: string;
  upstreamState: string | null;
  owner: string;
  /** The request it answers: method, and its name or URI and arguments (canonical JSON). */
  key: string;
  expiresAt: number;
}

/** What identifies a request across its rounds: the method and its name or URI and arguments. */
export function roundKey(method: string, params: Record<string, unknown> | undefined): string {
  return canonicalJson({ method, name: params?.name ?? null, uri: params?.uri ?? null, arguments: params?.arguments ?? {} });
}

/**
 * Modern upstreams' input_required rounds passed on to modern clients (tools/call, prompts/get,
 * resources/read): the client gets the upstream's input requests under the upstream's own keys,
 * and in place of the upstream's requestState a handle of the gateway's, single use, bound to the
 * caller and the request, good for INPUT_WAIT_MS. Nothing is held open upstream meanwhile; at most
 * PARKED_PER_PRESET rounds are out at once.
 */
export class PassedRounds {
  readonly #rounds = new Map<string, PassedRound>();

  /** The client's input_required for an upstream's `result`; throws when too many rounds are out. */
  issue(server: string, owner: string, key: string, result: Record<string, unknown>): Record<string, unknown> {
    const now = Date.now();
    for (const [handle, round] of this.#rounds) if (round.expiresAt <= now) this.#rounds.delete(handle);
    if (this.#rounds.size >= PARKED_PER_PRESET) throw new Error("too many input rounds out");
    const handle = `mrtr_${randomToken(32)}`;
    const upstreamState = typeof result.requestState === "string" ? result.requestState : null;
    this.#rounds.set(handle, { server, upstreamState, owner, key, expiresAt: now + INPUT_WAIT_MS });
    return { resultType: "input_required", ...(result.inputRequests !== undefined ? { inputRequests: result.inputRequests } : {}), requestState: handle };
  }

  /**
   * A retry's requestState: the upstream's state to send on (used up), the reason it is refused,
   * or null when it is no handle of this kind.
   */
  redeem(handle: unknown, owner: string, key: string): { state: string | null } | { refused: string } | null {
    const round = typeof handle === "string" ? this.#rounds.get(handle) : undefined;
    if (!round) return null;
    if (round.owner !== owner || round.expiresAt <= Date.now()) {
      return { refused: UNKNOWN_REQUEST_STATE };
    }
    if (round.key !== key) return { refused: "params.requestState belongs to another request (another name, URI or arguments)." };
    this.#rounds.delete(handle as string);
    return { state: round.upstreamState };
  }
}
