/**
 * The Node side of the e2e tests, in plain JavaScript with a `.d.mts` beside it (like the
 * fixtures), so the tests type-check without Node's types: where Chromium is, and the gateway as
 * `npm run dev` serves it (`wrangler dev` from a scratch copy of wrangler.toml, local D1 with the
 * migrations applied, secrets from --var; see bench/lib/wrangler-dev.mjs).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, runWranglerCaptured } from "../../bench/lib/build.mjs";
import { startWranglerDev } from "../../bench/lib/wrangler-dev.mjs";

/** The Chromium to drive: E2E_CHROMIUM or /usr/bin/chromium; null when absent (outside CI) — in CI that throws. */
export function findChromium() {
  const path = process.env.E2E_CHROMIUM ?? "/usr/bin/chromium";
  if (existsSync(path)) return path;
  const message = `e2e: no Chromium at ${path}. Install it (apt-get install -y chromium) or set E2E_CHROMIUM to its path.`;
  if (process.env.CI === "true") throw new Error(message);
  console.warn(`${message} Skipping the e2e tests.`);
  return null;
}

export const wantScreenshots = () => process.env.SCREENSHOTS === "1";

/** @param {{ adminToken: string }} o */
export async function startGateway({ adminToken }) {
  const scratch = mkdtempSync(join(tmpdir(), "mcpgate-e2e-"));
  const configDir = join(scratch, "config");
  const persistDir = join(scratch, "state");
  try {
    const dev = await startWranglerDev({
      srcRoot: ROOT,
      dir: configDir,
      persistDir,
      secrets: { ADMIN_TOKEN: adminToken, ENCRYPTION_KEY: "e2e-encryption-key-0123456789abcdef" },
    });
    return {
      url: dev.url,
      configDir,
      persistDir,
      async stop() {
        await dev.stop();
        rmSync(scratch, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(scratch, { recursive: true, force: true });
    throw e;
  }
}

/** One SQL statement on the local D1 the gateway uses. @param {{ configDir: string, persistDir: string }} g @param {string} sql */
export async function executeSql(g, sql) {
  await runWranglerCaptured(["d1", "execute", "DB", "--local", "--persist-to", g.persistDir, "--command", sql], { cwd: g.configDir });
}

/** axe-core's browser bundle, to evaluate in a page. */
export function axeSource() {
  return readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
}
