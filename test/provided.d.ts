/** Values `global-setup.ts` provides to every test file; read them with `inject(...)` from vitest. */
declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL of the fixture upstreams, e.g. `http://127.0.0.1:41234`; servers live at `/<name>/mcp`. */
    upstreamBase: string;
    /** A loopback MCP URL where nothing listens (connection refused). */
    deadUpstream: string;
    /** Base URL (and issuer) of the fake OpenID Connect provider, `fixtures/idp.mjs`. */
    idpBase: string;
    /** Base URL of the OAuth-protected upstream and its authorization server, `fixtures/oauth-upstream.mjs`. */
    oauthUpstreamBase: string;
    /** Base URL of the webhook receiver, `fixtures/webhook-receiver.mjs`. */
    webhookReceiverBase: string;
  }
}

// A module, so the block above augments vitest's types instead of replacing them.
export {};
