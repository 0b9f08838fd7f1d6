import type { D1Migration } from "cloudflare:test";
import type { Env as WorkerEnv } from "../src/edge/preset-stub";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      TEST_MIGRATIONS: D1Migration[];
      ADMIN_TOKEN: string;
      /** Base URL of the fixture upstreams, e.g. http://127.0.0.1:PORT (test/fixtures/upstreams.mjs). */
      UPSTREAM_BASE: string;
      /** An MCP URL on a port where nothing listens. */
      DEAD_UPSTREAM: string;
      /** Base URL of the fake OpenID Connect provider (test/fixtures/idp.mjs); also OIDC_ISSUER. */
      IDP_BASE: string;
      /** Base URL of the OAuth-protected upstream (test/fixtures/oauth-upstream.mjs). */
      OAUTH_UPSTREAM_BASE: string;
      /** Base URL of the webhook receiver (test/fixtures/webhook-receiver.mjs). */
      WEBHOOK_RECEIVER_BASE: string;
    }
  }
}
