/**
 * vitest globalSetup of the workers project: runs once, in Node (not in workerd), before its
 * first test file.
 *
 * It starts `fixtures/serve.mjs` in a process of its own: the real MCP upstreams of
 * `fixtures/upstreams.mjs` and the fake OpenID Connect provider of `fixtures/idp.mjs`, on
 * loopback ports. Their base URLs reach the tests through `provide`/`inject` (typed in
 * `provided.d.ts`); tests build upstream URLs as `${inject('upstreamBase')}/alpha/mcp`. The
 * provider's URL (`idpBase`) is the gateway's OIDC_ISSUER in tests.
 */
import type { TestProject } from "vitest/node";
import { startFixtureProcess } from "./fixtures/fixture-process.mjs";

export default async function setup({ provide }: TestProject): Promise<() => Promise<void>> {
  const fixtures = await startFixtureProcess();
  provide("upstreamBase", fixtures.upstreamBase);
  provide("deadUpstream", fixtures.deadUpstream);
  provide("idpBase", fixtures.idpBase);
  provide("oauthUpstreamBase", fixtures.oauthUpstreamBase);
  provide("webhookReceiverBase", fixtures.webhookReceiverBase);
  return () => fixtures.stop();
}
