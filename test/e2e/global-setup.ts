/**
 * vitest globalSetup of the e2e project, in Node: the gateway under `wrangler dev` (gateway.mjs),
 * the fixture upstreams, and the path of the Chromium the tests drive. Everything started here is
 * stopped at the end. Without Chromium the tests skip with a message, except in CI (CI=true),
 * where that fails the project: .ci/run installs Chromium.
 */
import type { TestProject } from "vitest/node";
import { startFixtureProcess } from "../fixtures/fixture-process.mjs";
import { findChromium, startGateway, wantScreenshots } from "./gateway.mjs";

const ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef";

export default async function setup({ provide }: TestProject): Promise<() => Promise<void>> {
  const chromium = findChromium();
  provide("chromium", chromium ?? "");
  if (!chromium) return async () => {};
  const started = Date.now();
  const fixtures = await startFixtureProcess();
  const gateway = await startGateway({ adminToken: ADMIN_TOKEN }).catch(async (e: unknown) => {
    await fixtures.stop();
    throw e;
  });
  console.log(`e2e: gateway on ${gateway.url}, ready in ${Date.now() - started} ms`);
  provide("gatewayUrl", gateway.url);
  provide("adminToken", ADMIN_TOKEN);
  provide("upstreamBase", fixtures.upstreamBase);
  provide("wrangler", { configDir: gateway.configDir, persistDir: gateway.persistDir });
  provide("screenshots", wantScreenshots());
  return async () => {
    await Promise.allSettled([gateway.stop(), fixtures.stop()]);
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    chromium: string;
    gatewayUrl: string;
    adminToken: string;
    wrangler: { configDir: string; persistDir: string };
    screenshots: boolean;
  }
}
