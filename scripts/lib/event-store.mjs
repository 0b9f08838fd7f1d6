/**
 * An in-memory SSE event store for the SDK's StreamableHTTPServerTransport, shared by the Node MCP
 * hosts (mcp-host.mjs, loopback-mcp-host.mjs). With a store, the transport gives every POST stream
 * a priming event (an id and empty data, for clients at 2025-11-25 or later), a handler may close
 * its stream mid-call (`extra.closeSSEStream`), and the client resumes with GET + Last-Event-ID.
 *
 * One store per session (per transport). It keeps the last `maxEvents` events, oldest dropped
 * first, so a long-lived session cannot grow without bound; a Last-Event-ID older than that cannot
 * be resumed (the transport answers it like an unknown one).
 */

/**
 * @param {{ maxEvents?: number }} [options]
 * @returns {import('@modelcontextprotocol/sdk/server/streamableHttp.js').EventStore}
 */
export function createEventStore({ maxEvents = 1000 } = {}) {
  /** Insertion-ordered, so replaying is a walk from the last event seen. @type {Map<string, { streamId: string, message: unknown }>} */
  const events = new Map();
  let seq = 0;
  return {
    async storeEvent(streamId, message) {
      const id = `${streamId}_${String(++seq).padStart(8, "0")}`;
      events.set(id, { streamId, message });
      if (events.size > maxEvents) events.delete(/** @type {string} */ (events.keys().next().value));
      return id;
    },
    async getStreamIdForEventId(eventId) {
      return events.get(eventId)?.streamId;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const last = events.get(lastEventId);
      if (!last) return "";
      let after = false;
      for (const [id, { streamId, message }] of events) {
        if (id === lastEventId) after = true;
        // Priming events are stored as {} and are not messages: nothing to replay.
        else if (after && streamId === last.streamId && message && typeof message === "object" && Object.keys(message).length > 0) {
          await send(id, /** @type {any} */ (message));
        }
      }
      return last.streamId;
    },
  };
}
