/**
 * @module Where a tools/call goes once it is admitted: the exposed name is resolved to a server
 * and upstream tool, the tool's rate limit is taken, and the call is sent on that server's
 * upstream session with the server's timeout (restarted by progress, paused while the call waits
 * on its client, 15 minutes at most). What the upstream sends before its answer is relayed to the
 * client (CallRelay), which turns the reply into an SSE stream. However it ends, the call is
 * recorded once. Calls in flight are kept by session and request id, so a client's
 * notifications/cancelled, or the end of its session, aborts them (and cancels them upstream).
 */

import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { exposeResultUris } from "../items/item-selection";
import type { MessageReply } from "../mcp/contract";
import { isJsonObject, RpcCode, type RpcId, type RpcRequest, rpcErrorBody, rpcResultBody } from "../mcp/jsonrpc";
import { isModernVersion, supportsSsePolling } from "../mcp/protocol";
import { heldMessage } from "../pinning/pin-board";
import type { LimitOutcome, RateLimits } from "../policy/rate-limits";
import type { PresetConfig, PresetServer } from "../preset/config";
import { budgetOf, type Session, upstreamCallerOf } from "../preset/session-store";
import type { SessionStreams } from "../streaming/session-streams";
import { CallerIdentityError, type FailureKind, UpstreamFailure, UpstreamRpcError } from "../upstream/client";
import { Deadline } from "../upstream/deadline";
import type { InputAnswer, InputRelay } from "../upstream/modern";
import type { AskClient, UpstreamPool } from "../upstream/pool";
import type { UpstreamCaller } from "../upstream/session-scope";
import { outcomeOfFailure, outcomeOfResult, type ToolCallFacts, UNRESOLVED_TOOL } from "../usage/call-record";
import type { MetricsWriter } from "../usage/metrics";
import { CallRelay, type RelayHost, type RelayOptions } from "./call-relay";
import type { CatalogCache } from "./catalog-cache";
import {
  canonicalJson,
  INPUT_WAIT_MS,
  PARKED_PER_CALLER,
  PARKED_PER_PRESET,
  ParkedCall,
  type PassedRounds,
  roundKey,
  UNKNOWN_REQUEST_STATE,
} from "./input-rounds";
import type { TaskRoutes } from "./task-routes";

/** However much progress an upstream reports, a tools/call ends after this long. */
export const MAX_CALL_MS = 15 * 60_000;

const FAILURE_CODES: Record<FailureKind, number> = {
  unreachable: RpcCode.UpstreamUnavailable,
  http_error: RpcCode.UpstreamUnavailable,
  session_lost: RpcCode.UpstreamUnavailable,
  blocked: RpcCode.UpstreamUnavailable,
  timeout: RpcCode.UpstreamTimeout,
  bad_response: RpcCode.UpstreamBadResponse,
  breaker_open: RpcCode.BreakerOpen,
  cancelled: RpcCode.RequestCancelled,
  sessions_full: RpcCode.SessionsFull,
};

/** One request being served: the preset, the caller's session, who the caller counts as, and the invocation's metrics. */
export interface CallContext {
  config: PresetConfig;
  session: Session;
  /** The caller key (policy/caller-key.ts): what limits and records count. */
  caller: string;
  metrics: MetricsWriter;
  /** The gateway's public origin as the request reached it (for links sent back to the caller). */
  origin?: string;
  /** How a reply to `req` is written for this caller's era (modern-era additions); none in the legacy era. */
  shape?: (req: RpcRequest, body: string) => string;
}

/** Receives the reply as an SSE stream as soon as the call has something to relay before its answer. */
export type StreamOpened = (reply: { status: number; body: ReadableStream<Uint8Array>; headers?: Record<string, string> }) => void;

export interface ToolCallDeps {
  pool: UpstreamPool;
  catalog: CatalogCache;
  streams: SessionStreams;
  limits: RateLimits;
  /** A notification on a call's stream that is about the upstream, not the call (list_changed, resources/updated). */
  upstreamNotification: (server: PresetServer, message: Record<string, unknown>, caller: UpstreamCaller) => void;
  /** The reply to a request a rate limit refused (and its audit event). */
  refuse: (ctx: CallContext, req: RpcRequest, limited: LimitOutcome) => MessageReply & { status: number };
  /** Where tasks started by calls are routed from (2025-11-25 tasks). */
  tasks: TaskRoutes;
  /** Modern upstreams' input rounds out with modern clients. */
  rounds: PassedRounds;
  /** The JSON-RPC error for a caller who lacks their own credentials for an upstream (a connect URL, as a URL elicitation where the client takes one). */
  identityError?: (error: CallerIdentityError, capabilities: Record<string, unknown>) => { code: number; message: string; data?: unknown };
  /** Records one call (metrics, rollups, call log); never throws. */
  record: (ctx: CallContext, req: RpcRequest, facts: ToolCallFacts, body: string | null, at: number) => void;
}

export class ToolCalls {
  readonly #deps: ToolCallDeps;
  /** Calls in flight by `<session>:<request id>`. */
  readonly #inflight = new Map<string, AbortController>();
  /** Modern clients' calls waiting for their input (input-rounds.ts), and each round's requestState. */
  readonly #parkedCalls = new Set<ParkedCall>();
  readonly #states = new Map<string, ParkedCall>();
  #progressSeq = 0;
  #inputSeq = 0;

  constructor(deps: ToolCallDeps) {
    this.#deps = deps;
  }

  /** Runs a tools/call, then records it however it ended. With `stream`, the reply may turn into SSE. */
  async run(ctx: CallContext, req: RpcRequest, stream?: StreamOpened): Promise<MessageReply> {
    // A modern client's retry: of a call parked here, or of a modern upstream's own round (sent on with the upstream's state).
    let upstreamState: string | null | undefined;
    if (req.params?.requestState !== undefined && isModernVersion(ctx.session.protocolVersion)) {
      const passed = this.#passedOn(ctx, req);
      if (passed === null) return this.#resume(ctx, req);
      if ("body" in passed) return passed;
      upstreamState = passed.state;
    }
    const at = Date.now();
    const facts: ToolCallFacts = { tool: UNRESOLVED_TOOL, upstream: null, outcome: "upstream_error" };
    let reply: MessageReply | undefined;
    // A call answered with input_required goes on: it is recorded when it ends.
    let later: Promise<string | null> | null = null;
    try {
      reply = await this.#run(
        ctx,
        req,
        facts,
        stream,
        (answer) => {
          later = answer;
        },
        upstreamState,
      );
      return reply;
    } finally {
      const record = (body: string | null) => this.#deps.record(ctx, req, facts, body, at);
      if (later) void (later as Promise<string | null>).then(record);
      else record(reply?.body ?? null);
    }
  }

  /**
   * A modern client's retry of a call answered with input_required: its `requestState` must name a
   * call parked for this caller, tool and arguments, and is used up; the answers go upstream and
   * the reply is the next round or the call's answer.
   */
  async #resume(ctx: CallContext, req: RpcRequest): Promise<MessageReply> {
    const { config, caller } = ctx;
    const params = req.params ?? {};
    const state = params.requestState;
    const parked = typeof state === "string" ? this.#states.get(state) : undefined;
    if (!parked || parked.owner !== ownerOf(ctx)) {
      return {
        body: rpcErrorBody(req.id, RpcCode.InvalidParams, UNKNOWN_REQUEST_STATE),
      };
    }
    if (params.name !== parked.tool || canonicalJson(params.arguments ?? {}) !== parked.argsKey) {
      return { body: rpcErrorBody(req.id, RpcCode.InvalidParams, "params.requestState belongs to a call of another tool or with other arguments.") };
    }
    const responses = params.inputResponses ?? {};
    if (!isJsonObject(responses)) {
      return { body: rpcErrorBody(req.id, RpcCode.InvalidParams, "params.inputResponses must be an object of answers by input request key.") };
    }
    const limited = this.#deps.limits.takeControl(caller, config.rateLimit, Date.now(), budgetOf(ctx.session));
    if (!limited.allowed) return this.#deps.refuse(ctx, req, limited);
    this.#states.delete(state as string);
    if (parked.timer !== undefined) clearTimeout(parked.timer);
    parked.state = null;
    parked.answer(responses);
    await parked.settled();
    return { body: this.#round(parked, req.id), headers: limited.headers };
  }

  /** The reply to a client request of a parked call now; a new round's state is kept, and the call is cancelled if nobody comes back for it. */
  #round(parked: ParkedCall, id: RpcId): string {
    const body = parked.reply(id);
    const state = parked.state;
    if (state !== null) {
      this.#states.set(state, parked);
      parked.timer = setTimeout(() => {
        if (this.#states.get(state) !== parked) return;
        this.#states.delete(state);
        parked.abort();
      }, INPUT_WAIT_MS);
    }
    return body;
  }

  /** A client's notifications/cancelled: aborts its call in flight, which cancels it upstream. */
  cancel(sessionId: string, params: Record<string, unknown> | undefined): void {
    const requestId = params?.requestId;
    if (typeof requestId !== "string" && typeof requestId !== "number") return;
    this.#inflight.get(inflightKey(sessionId, requestId))?.abort(new DOMException("cancelled by the client", "AbortError"));
  }

  /** The session ended: its calls in flight end (cancelled upstream), since nobody can answer what they wait for. */
  endSession(sessionId: string): void {
    for (const [key, controller] of this.#inflight) {
      if (key.startsWith(`${sessionId}:`)) controller.abort(new DOMException("the session ended", "AbortError"));
    }
  }

  /** Noting in `facts` which tool and upstream the call reached and how it ended. */
  async #run(
    ctx: CallContext,
    req: RpcRequest,
    facts: ToolCallFacts,
    stream: StreamOpened | undefined,
    goesOn: (answer: Promise<string | null>) => void,
    /** A retry of a modern upstream's round: the upstream's requestState in place of the client's (null: none). */
    upstreamState?: string | null,
  ): Promise<MessageReply> {
    const { config, session, caller } = ctx;
    const params = req.params ?? {};
    facts.outcome = "denied";
    if (typeof params.name !== "string") return { body: rpcErrorBody(req.id, RpcCode.InvalidParams, "tools/call needs params.name (a string).") };
    const args = params.arguments;
    if (args !== undefined && (args === null || typeof args !== "object" || Array.isArray(args))) {
      return { body: rpcErrorBody(req.id, RpcCode.InvalidParams, "params.arguments must be an object.") };
    }
    const target = await this.#deps.catalog.route(config, params.name, upstreamCallerOf(session, ctx.origin));
    if (!target) return { body: rpcErrorBody(req.id, RpcCode.InvalidParams, `Unknown tool: ${params.name}`) };
    if (target.held)
      return { body: rpcErrorBody(req.id, RpcCode.InvalidParams, heldMessage("tool", params.name), { reason: "awaiting_review", tool: params.name }) };
    facts.tool = params.name;
    facts.upstream = target.server.name;

    const limited = this.#deps.limits.takeCall(caller, params.name, config.rateLimit, config.toolLimits[params.name], Date.now(), budgetOf(session));
    if (!limited.allowed) {
      facts.outcome = "rate_limited";
      return this.#deps.refuse(ctx, req, limited);
    }

    const key = inflightKey(session.id, req.id);
    const controller = new AbortController();
    this.#inflight.set(key, controller);
    facts.outcome = "upstream_error";
    const server = target.server;
    const upstreamParams: Record<string, unknown> = { ...params, name: target.upstreamName };
    if (upstreamState !== undefined) {
      delete upstreamParams.requestState;
      if (upstreamState !== null) upstreamParams.requestState = upstreamState;
    }
    const { progressToken: clientToken, ...meta } = (params._meta ?? {}) as Record<string, unknown>;
    const progressToken =
      stream && (typeof clientToken === "string" || typeof clientToken === "number")
        ? { client: clientToken, upstream: `mcpgate-p${++this.#progressSeq}` }
        : undefined;
    if (params._meta !== undefined) upstreamParams._meta = progressToken ? { ...meta, progressToken: progressToken.upstream } : meta;
    // Its idle clock starts when the request is sent (call.ts), after the upstream session is ready.
    const deadline = new Deadline(server.timeoutMs, MAX_CALL_MS, { deferred: true });
    // 2026-07-28: closing a request's stream is its cancellation (there is no notifications/cancelled over HTTP).
    const cancelOnClose = isModernVersion(session.protocolVersion)
      ? () => controller.abort(new DOMException("the client closed the stream", "AbortError"))
      : undefined;
    // A modern client is asked for input with input_required rounds while the call stays open here.
    const parked = cancelOnClose ? new ParkedCall(ownerOf(ctx), params.name, args, req.id, () => controller.abort(ABANDONED)) : null;
    const collect = parked ? (key: string, method: string, input: unknown) => this.#park(parked, key, method, input) : undefined;
    const { relay, onInputRequired, ask, closeStream } = this.#relay(session, req, server, {
      deadline,
      progressToken,
      streaming: !!stream,
      cancelOnClose,
      collect,
    });
    if (parked) parked.relay = relay;
    if (stream) void relay.opened.then((body) => stream({ status: 200, body, headers: limited.headers }));
    let reply: MessageReply | undefined;
    const ended = () => {
      deadline.clear();
      if (this.#inflight.get(key) === controller) this.#inflight.delete(key);
      relay.finish(reply?.body ?? rpcErrorBody(req.id, RpcCode.InternalError, "Internal error."));
      closeStream();
    };
    const call = { relay, onInputRequired, ask, deadline };
    const who = {
      owner: ownerOf(ctx),
      modern: cancelOnClose !== undefined,
      capabilities: session.clientCapabilities,
      upstream: upstreamCallerOf(session, ctx.origin),
    };
    const answer = this.#upstream(server, req, upstreamParams, facts, controller.signal, call, limited.headers, who).then((answered) => {
      reply = ctx.shape ? { ...answered, body: ctx.shape(req, answered.body) } : answered;
      return reply;
    });
    if (!parked) return answer.finally(ended);
    const first = await Promise.race([answer, parked.settled().then(() => null)]).catch((e: unknown) => {
      ended();
      throw e;
    });
    if (first !== null) {
      ended();
      return first;
    }
    // The upstream asked for input: this request is answered with a round, the call goes on.
    this.#parkedCalls.add(parked);
    const failed = rpcErrorBody(req.id, RpcCode.InternalError, "Internal error.");
    const settled = answer.then(
      (r) => r.body ?? failed,
      () => failed,
    );
    goesOn(
      settled.then((body) => {
        parked.finish(body);
        ended();
        this.#parkedCalls.delete(parked);
        return body;
      }),
    );
    const round = this.#round(parked, req.id);
    relay.detach(round);
    return { body: round, headers: limited.headers };
  }

  /** A modern upstream's round for a modern client (input-rounds.ts PassedRounds). */
  #issueRound(server: PresetServer, owner: string, req: RpcRequest, result: Record<string, unknown>): Record<string, unknown> {
    try {
      return this.#deps.rounds.issue(server.name, owner, roundKey(req.method, req.params), result);
    } catch {
      throw new UpstreamRpcError(RpcCode.InternalError, "The gateway holds too many rounds waiting for their clients' input; try again later.");
    }
  }

  /** A retry naming a modern upstream's round: the upstream's state to send on, the refusal, or null (not such a round). */
  #passedOn(ctx: CallContext, req: RpcRequest): { state: string | null } | MessageReply | null {
    const redeemed = this.#deps.rounds.redeem(req.params?.requestState, ownerOf(ctx), roundKey(req.method, req.params));
    if (redeemed && "refused" in redeemed) return { body: rpcErrorBody(req.id, RpcCode.InvalidParams, redeemed.refused) };
    return redeemed;
  }

  /** Holds an upstream's input request for the client's next round, unless the caller or the preset has too many calls parked. */
  #park(parked: ParkedCall, key: string, method: string, params: unknown): boolean {
    if (!this.#parkedCalls.has(parked)) {
      let mine = 0;
      for (const p of this.#parkedCalls) if (p.owner === parked.owner) mine++;
      if (this.#parkedCalls.size >= PARKED_PER_PRESET || mine >= PARKED_PER_CALLER) return false;
    }
    parked.push(key, method, params);
    return true;
  }

  /** The relay of one call: what the upstream sends before its answer, to the calling session. */
  #relay(
    session: Session,
    req: RpcRequest,
    server: PresetServer,
    opts: {
      deadline: Deadline;
      progressToken: RelayOptions["progressToken"];
      streaming: boolean;
      cancelOnClose?: () => void;
      collect?: RelayOptions["collect"];
    },
  ) {
    const { deadline, progressToken, streaming, cancelOnClose, collect } = opts;
    const { streams, pool } = this.#deps;
    let callStream: ReturnType<SessionStreams["openCallStream"]> | null = null;
    /** Input requests of a modern upstream (MRTR) relayed to the client, by the id the relay saw: where their answers go. */
    const inputs = new Map<string, (answer: InputAnswer) => void>();
    const host: RelayHost = {
      openStream: () => {
        callStream = streams.openCallStream(session, req.id);
        if (cancelOnClose) callStream.onGone = cancelOnClose;
        return callStream;
      },
      registerRequest: (relay) => streams.registerRequest(session.id, relay),
      forgetRequest: (id) => streams.forgetRequest(id),
      respondUpstream: (message) => {
        const input = typeof message.id === "string" ? inputs.get(message.id) : undefined;
        if (input) {
          inputs.delete(message.id as string);
          input("error" in message ? { error: message.error as { code: number; message: string } } : { result: message.result });
          return;
        }
        pool.respond(server, upstreamCallerOf(session), message as Parameters<UpstreamPool["respond"]>[2]).catch(() => {});
      },
      wantsLog: (level) => streaming && streams.wantsLog(session.id, level),
      onOtherNotification: (m) => this.#deps.upstreamNotification(server, m, upstreamCallerOf(session)),
    };
    const relay = new CallRelay(host, {
      // A modern client is asked through input_required rounds, streaming or not.
      capabilities: streaming || collect ? session.clientCapabilities : {},
      progressToken,
      deadline,
      polling: streaming && supportsSsePolling(session.protocolVersion),
      collect,
    });
    /** One request relayed to the client as if on the call's reply: resolved with the client's answer. */
    const askOnce = (method: string, params: unknown): Promise<InputAnswer> =>
      new Promise((resolve) => {
        const id = `mcpgate-input-${++this.#inputSeq}`;
        inputs.set(id, resolve);
        relay.onMessage({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) });
      });
    /**
     * What the upstream asks outside the call's reply while the call runs (its standalone stream):
     * relayed on the call's stream like a request on its reply, the answer returned to the pool.
     */
    const ask: AskClient = async (method, params) => {
      const answer = await askOnce(method, params);
      if ("error" in answer) throw new McpError(answer.error.code, answer.error.message, (answer.error as { data?: unknown }).data);
      return (answer.result ?? {}) as Record<string, unknown>;
    };
    /** A round of input requests: each goes to the client like a 2025 upstream's request; the first error ends the round. */
    const onInputRequired: InputRelay = (requests) =>
      new Promise((resolve) => {
        const answers = new Map<string, InputAnswer>();
        for (const [key, request] of requests) {
          void askOnce(request.method, request.params).then((answer) => {
            answers.set(key, answer);
            if ("error" in answer || answers.size === requests.size) resolve(answers);
          });
        }
      });
    return {
      relay,
      onInputRequired,
      ask,
      closeStream: () => {
        if (callStream) streams.closeCallStream(callStream);
      },
    };
  }

  /** The upstream part of a tools/call: its answer, or the error that stands for its failure. */
  async #upstream(
    server: PresetServer,
    req: RpcRequest,
    params: Record<string, unknown>,
    facts: ToolCallFacts,
    signal: AbortSignal,
    call: { relay: CallRelay; onInputRequired: InputRelay; ask: AskClient; deadline: Deadline },
    headers: Record<string, string> | undefined,
    caller: { owner: string; modern: boolean; capabilities: Record<string, unknown>; upstream: UpstreamCaller },
  ): Promise<MessageReply & { body: string }> {
    const { relay, onInputRequired, ask, deadline } = call;
    try {
      const result = await this.#deps.pool.request(server, "tools/call", params, server.timeoutMs, signal, {
        caller: caller.upstream,
        ask,
        deadline,
        onMessage: (m) => relay.onMessage(m),
        onPause: () => relay.onPause(),
        onInputRequired,
        clientCapabilities: caller.capabilities,
        passThroughInput: caller.modern,
      });
      if (caller.modern && result.resultType === "input_required") {
        facts.outcome = "ok";
        return { body: rpcResultBody(req.id, this.#issueRound(server, caller.owner, req, result)), headers };
      }
      // A task started upstream (params.task) reaches the client under the gateway's id.
      const adopted = this.#deps.tasks.adopt(server, caller.owner, result, caller.modern, caller.upstream);
      if (adopted instanceof UpstreamRpcError) throw adopted;
      facts.outcome = outcomeOfResult(adopted);
      return { body: rpcResultBody(req.id, exposeResultUris(server, adopted)), headers };
    } catch (e) {
      if (e instanceof UpstreamRpcError) {
        facts.outcome = "tool_error";
        return { body: rpcErrorBody(req.id, e.code, e.message, e.data), headers };
      }
      if (e instanceof CallerIdentityError) {
        facts.outcome = "denied";
        const error = this.#deps.identityError?.(e, caller.capabilities) ?? { code: RpcCode.Unauthorized, message: e.message, data: { upstream: e.upstream } };
        return { body: rpcErrorBody(req.id, error.code, error.message, error.data), headers };
      }
      if (e instanceof UpstreamFailure) {
        facts.outcome = outcomeOfFailure(e.kind);
        const data: Record<string, unknown> = { upstream: e.upstream, reason: e.kind };
        if (e.kind === "breaker_open" && e.detail) data.retryAt = new Date(e.detail).toISOString();
        return { body: rpcErrorBody(req.id, FAILURE_CODES[e.kind], e.message, data), headers };
      }
      throw e;
    }
  }
}

const inflightKey = (sessionId: string, requestId: string | number) => `${sessionId}:${JSON.stringify(requestId)}`;
/** Who may continue a parked call or use a task: the caller's principal and caller key. */
export const ownerOf = (ctx: CallContext) => `${ctx.session.principal}|${ctx.caller}`;
const ABANDONED = new DOMException("the client did not come back with the input asked for", "AbortError");
