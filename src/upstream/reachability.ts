/**
 * @module Whether an upstream can be reached at all, for `upstream.unreachable`: pure, per server,
 * from what each request to it ended with. Raised once when `failures` connection failures came in
 * a row, not again until the upstream answered something.
 */
import type { UpstreamFailure } from "./client";

/** HTTP statuses a proxy or load balancer in front of an upstream answers when it cannot reach it. */
const GATEWAY_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

/**
 * What a request's end says of reaching the upstream: `unreachable` (no connection: refused, DNS,
 * TLS, reset, closed mid-reply; or HTTP 502/503/504 from in front of it), `reached` (it answered:
 * a result, a JSON-RPC error, any other HTTP status, a reply that is not MCP, a lost session), or
 * null when it says nothing (timeouts, cancellation, an open breaker, a blocked URL, full sessions).
 */
export function reachOf(failure: UpstreamFailure | null): "reached" | "unreachable" | null {
  if (failure === null) return "reached";
  switch (failure.kind) {
    case "unreachable":
      return "unreachable";
    case "http_error":
      return GATEWAY_STATUSES.has(failure.detail ?? 0) ? "unreachable" : "reached";
    case "bad_response":
    case "session_lost":
      return "reached";
    default:
      return null;
  }
}

/**
 * Connection failures in a row per server, and the servers already announced unreachable (kept
 * by the caller across restarts: `down`). Holds one entry per server that failed since it last
 * answered; `retain` drops servers that left the preset.
 */
export class ReachabilityWatch {
  readonly #failures = new Map<string, number>();
  readonly #down: Set<string>;

  constructor(down: Iterable<string> = []) {
    this.#down = new Set(down);
  }

  /**
   * One request to `serverId` ended. `announce`: this failure is the `needed`-th in a row and the
   * server was not announced yet (announce it now); `recovered`: an announced server answered again.
   */
  observe(serverId: string, reach: "reached" | "unreachable" | null, needed: number): { announce?: number; recovered?: true } {
    if (reach === null) return {};
    if (reach === "reached") {
      this.#failures.delete(serverId);
      return this.#down.delete(serverId) ? { recovered: true } : {};
    }
    const failures = (this.#failures.get(serverId) ?? 0) + 1;
    this.#failures.set(serverId, failures);
    if (failures < needed || this.#down.has(serverId)) return {};
    this.#down.add(serverId);
    return { announce: failures };
  }

  /** Forgets servers not in `serverIds`; returns the announced ones it forgot. */
  retain(serverIds: ReadonlySet<string>): string[] {
    for (const id of this.#failures.keys()) if (!serverIds.has(id)) this.#failures.delete(id);
    const gone = [...this.#down].filter((id) => !serverIds.has(id));
    for (const id of gone) this.#down.delete(id);
    return gone;
  }
}
