import type { Caller } from "../mcp/contract";
import type { Env } from "./preset-stub";

/** @module Hono's environment: the worker bindings plus what middleware puts on the context. */

export interface AppEnv {
  Bindings: Env;
  Variables: {
    /** Set by the user-auth middleware of the management API. */
    userId: string;
    /** Set by the MCP endpoint's caller middleware (edge/caller.ts). */
    caller: Caller;
  };
}
