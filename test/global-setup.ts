/**
 * vitest globalSetup: runs once, in Node (not in workerd), before any test file.
 *
 * It starts the real MCP upstreams of `fixtures/upstreams.mjs` on a loopback port and hands their
 * base URL to the tests through `provide`/`inject` (typed in `provided.d.ts`); tests build
 * upstream URLs as `${inject('upstreamBase')}/alpha/mcp`. It also starts the fake OpenID Connect
 * provider of `fixtures/idp.mjs` (`idpBase`), the gateway's OIDC_ISSUER in tests.
 */
import type { TestProject } from 'vitest/node';
import { startIdp } from './fixtures/idp.mjs';
import { deadUpstreamUrl, startTestUpstreams } from './fixtures/upstreams.mjs';

export default async function setup({ provide }: TestProject): Promise<() => Promise<void>> {
  const upstreams = await startTestUpstreams();
  provide('upstreamBase', upstreams.url);
  provide('deadUpstream', await deadUpstreamUrl());
  const idp = await startIdp();
  provide('idpBase', idp.url);
  return async () => {
    await Promise.all([upstreams.close(), idp.close()]);
  };
}
