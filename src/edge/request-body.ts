/**
 * @module The app-wide rule for request bodies a route did not read to the end: an early reply
 * (401, 403, 404, 413, 415 …) is sent only once the rest of the body has been read and thrown
 * away, so the client's upload finishes and the reply reaches it (see shared/read-limited.ts).
 */
import type { MiddlewareHandler } from "hono";
import { discardBody } from "../shared/read-limited";

/** Runs the route, then disposes of whatever of the request body it left unread. */
export const discardUnreadBody: MiddlewareHandler = async (c, next) => {
  await next();
  await discardBody(c.req.raw);
};
