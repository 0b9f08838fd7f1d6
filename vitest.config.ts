import { availableParallelism } from "node:os";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

/**
 * Three projects, chosen by folder:
 * - `unit` (test/unit/): pure cores, in plain Node. No workerd, no fixture servers; fast and parallel.
 * - `workers` (everything else under test/ but e2e/): inside workerd with real local D1 and Durable Objects.
 *   test/api/ and test/integration/ go through the worker's fetch; test/durable-object/ reaches
 *   into a Durable Object's storage with runInDurableObject. Upstream MCP servers are real SDK
 *   servers that test/global-setup.ts starts in Node on loopback; their URLs reach the worker as
 *   bindings.
 * - `e2e` (test/e2e/): the web console in real headless Chromium (playwright-core, axe-core) against
 *   `wrangler dev`, which test/e2e/global-setup.ts starts with the fixture upstreams.
 * `vitest run --project unit` runs one of them.
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    test: {
      // A workers file gets its own workerd and mostly waits on the fixture upstreams (and on the
      // timeouts it provokes), so run two files at a time even on 2 cores, where Vitest's default is 1.
      maxWorkers: Math.max(2, availableParallelism() - 1),
      projects: [
        {
          test: {
            name: "unit",
            environment: "node",
            include: ["test/unit/**/*.test.ts"],
          },
        },
        {
          plugins: [
            cloudflareTest(({ inject }) => ({
              main: "./src/index.ts",
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  TEST_MIGRATIONS: migrations,
                  ADMIN_TOKEN: "test-admin-token-0123456789abcdef",
                  ENCRYPTION_KEY: "test-encryption-key-0123456789abcdef",
                  ALLOW_INSECURE_UPSTREAMS: "true",
                  // As deployed behind Cloudflare (wrangler.toml), whatever a local .dev.vars says.
                  TRUST_CF_CONNECTING_IP: "true",
                  ALLOWED_ORIGINS: "http://localhost:6274",
                  UPSTREAM_BASE: inject<string>("upstreamBase"),
                  DEAD_UPSTREAM: inject<string>("deadUpstream"),
                  // Sign-in through the fake OpenID Connect provider of test/fixtures/idp.mjs.
                  OIDC_ISSUER: inject<string>("idpBase"),
                  OIDC_CLIENT_ID: "mcpgate-test",
                  OIDC_CLIENT_SECRET: "idp-test-secret",
                  OIDC_NAME: "Test IdP",
                  IDP_BASE: inject<string>("idpBase"),
                  OAUTH_UPSTREAM_BASE: inject<string>("oauthUpstreamBase"),
                  WEBHOOK_RECEIVER_BASE: inject<string>("webhookReceiverBase"),
                  // Webhook retries after 1 s, 2 s, 4 s ... instead of 30 s, 1 min, 2 min ...
                  WEBHOOK_RETRY_BASE_SECONDS: "1",
                },
              },
            })),
          ],
          test: {
            name: "workers",
            include: ["test/**/*.test.ts"],
            exclude: ["test/unit/**", "test/e2e/**"],
            globalSetup: ["./test/global-setup.ts"],
            setupFiles: ["./test/apply-migrations.ts"],
            testTimeout: 20_000,
            hookTimeout: 30_000,
          },
        },
        {
          test: {
            name: "e2e",
            environment: "node",
            include: ["test/e2e/**/*.test.ts"],
            globalSetup: ["./test/e2e/global-setup.ts"],
            testTimeout: 60_000,
            hookTimeout: 90_000,
          },
        },
      ],
    },
  };
});
