/**
 * vitest globalSetup: runs once, in Node (not in workerd), before any test file.
 *
 * It starts the real MCP upstreams of `fixtures/upstreams.mjs` on a loopback port and hands their
 * base URL to the tests through `provide`/`inject` (typed in `provided.d.ts`); tests build
 * upstream URLs as `${inject('upstreamBase')}/alpha/mcp`.
 */
import type { TestProject } from 'vitest/node';
import { deadUpstreamUrl, startTestUpstreams } from './fixtures/upstreams.mjs';

export default async function setup({ provide }: TestProject): Promise<() => Promise<void>> {
  const upstreams = await startTestUpstreams();
  provide('upstreamBase', upstreams.url);
  provide('deadUpstream', await deadUpstreamUrl());
  return () => upstreams.close();
}
