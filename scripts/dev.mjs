/**
 * `npm run dev [-- --port 8787] [--demo-port N] [--smoke]`: one command from a fresh checkout to a
 * working gateway with a demo preset to connect an MCP client to.
 *
 *   1. create .dev.vars from .dev.vars.example with fresh secrets, if missing
 *   2. apply D1 migrations to the local database
 *   3. start the offline demo MCP upstream (scripts/demo-upstream.mjs) on 127.0.0.1:<demo-port>
 *   4. start `wrangler dev` on 127.0.0.1:<port> and wait for GET /healthz
 *   5. seed the demo user and preset through POST /api/v1/admin/demo (idempotent)
 *   6. print how to connect, then run until Ctrl+C or until wrangler exits
 *
 * --smoke runs 1–5, then calls `demo__echo` through the gateway with the SDK client and exits
 * 0 or 1: a self-check for newcomers and CI.
 */
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startDemoUpstream } from "./demo-upstream.mjs";
import { ensureDevVars, readDevVars } from "./lib/dev-vars.mjs";
import { exitOf, runWrangler, spawnWrangler, stopProcessGroup } from "./lib/wrangler.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DEV_VARS = `${ROOT}.dev.vars`;
const HEALTH_TIMEOUT_MS = 60_000;
/** Upper bound for the whole --smoke run, so a stuck step can never leave it hanging. */
const SMOKE_TIMEOUT_MS = 240_000;

const { values: opts } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    "demo-port": { type: "string" },
    smoke: { type: "boolean", default: false },
  },
});
const port = parsePort(opts.port, "--port");
const demoPort = opts["demo-port"] === undefined ? port + 3 : parsePort(opts["demo-port"], "--demo-port");
const gatewayUrl = `http://127.0.0.1:${port}`;

/** @type {import('node:child_process').ChildProcess | undefined} */
let wrangler;
/** @type {Awaited<ReturnType<typeof startDemoUpstream>> | undefined} */
let demo;
/** @type {Promise<never> | undefined} */
let stopping;

/** Stops everything we started (once) and exits. */
function shutdown(/** @type {number} */ code) {
  stopping ??= (async () => {
    await Promise.allSettled([wrangler && stopProcessGroup(wrangler), demo?.close()]);
    process.exit(code);
  })();
  return stopping;
}
for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM", "SIGHUP"])) {
  process.on(signal, () => {
    log(`${signal} received, stopping…`);
    void shutdown(opts.smoke ? 1 : 0);
  });
}

try {
  if (opts.smoke) setTimeout(() => fail(`smoke test did not finish within ${SMOKE_TIMEOUT_MS / 1000}s`), SMOKE_TIMEOUT_MS).unref();
  await main();
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}

async function main() {
  const { created, generated } = ensureDevVars(DEV_VARS, `${ROOT}.dev.vars.example`);
  if (created) log(`created .dev.vars from .dev.vars.example with fresh random ${generated.join(" and ")}`);
  const adminToken = readDevVars(DEV_VARS).ADMIN_TOKEN;
  if (!adminToken) throw new Error(".dev.vars has no ADMIN_TOKEN; delete it to have it recreated from .dev.vars.example");

  log("applying D1 migrations to the local database…");
  await runWrangler(["d1", "migrations", "apply", "DB", "--local"], { cwd: ROOT });

  demo = await startDemoUpstream({ port: demoPort }).catch((err) => {
    throw new Error(`cannot start the demo upstream on 127.0.0.1:${demoPort} (${err.code ?? err.message}); pick another with --demo-port`);
  });
  const demoUrl = `${demo.url}/demo/mcp`;
  log(`demo MCP upstream on ${demoUrl}`);

  // Otherwise wrangler may quietly pick another port, or our health check may hit a stranger.
  await assertPortFree(port, "--port");
  log(`starting wrangler dev on ${gatewayUrl}…`);
  wrangler = spawnWrangler(["dev", "--port", String(port), "--ip", "127.0.0.1", "--show-interactive-dev-session=false"], { cwd: ROOT });
  const wranglerExit = exitOf(wrangler);
  void wranglerExit.then((code) => {
    if (stopping) return;
    log(`wrangler dev exited (${code}); stopping.`);
    void shutdown(opts.smoke || code !== 0 ? 1 : 0);
  });
  await waitForHealth(wranglerExit);

  const seed = await seedDemo(adminToken, demoUrl);
  if (opts.smoke) return smoke(seed);
  printBanner(seed);
}

/**
 * Polls GET /healthz until it answers 200; gives up when wrangler exits or after the deadline.
 * @param {Promise<unknown>} wranglerExit
 */
async function waitForHealth(wranglerExit) {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let exited = false;
  void wranglerExit.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    try {
      const res = await fetch(`${gatewayUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(
    exited ? "wrangler dev exited before the gateway became healthy" : `GET ${gatewayUrl}/healthz did not answer 200 within ${HEALTH_TIMEOUT_MS / 1000}s`,
  );
}

/**
 * @typedef {{ user: { id: string, handle: string }, preset: { url: string }, created: boolean, token?: string }} DemoSeed
 * @param {string} adminToken
 * @param {string} upstreamUrl
 * @returns {Promise<DemoSeed>}
 */
async function seedDemo(adminToken, upstreamUrl) {
  const res = await fetch(`${gatewayUrl}/api/v1/admin/demo`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ upstreamUrl }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`seeding the demo preset failed: POST /api/v1/admin/demo answered ${res.status} ${body.slice(0, 500)}`);
  const seed = /** @type {DemoSeed} */ (JSON.parse(body));
  if (typeof seed?.preset?.url !== "string") throw new Error(`unexpected answer from POST /api/v1/admin/demo: ${body.slice(0, 500)}`);
  log(seed.created ? `created demo user "${seed.user.handle}" and its preset` : `demo preset already there (user "${seed.user.handle}")`);
  return seed;
}

/** @param {DemoSeed} seed */
async function smoke(seed) {
  const headers = seed.token ? { authorization: `Bearer ${seed.token}` } : undefined;
  const client = new Client({ name: "mcpgate-dev-smoke", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(seed.preset.url), { requestInit: { headers } }), { timeout: 15_000 });
  const { tools } = await client.listTools(undefined, { timeout: 15_000 });
  log(`tools: ${tools.map((t) => t.name).join(", ")}`);
  const result = await client.callTool({ name: "demo__echo", arguments: { text: "hi" } }, undefined, { timeout: 15_000 });
  log(`demo__echo {"text":"hi"} → ${JSON.stringify(result)}`);
  await client.close();
  const text = Array.isArray(result.content) && result.content[0]?.type === "text" ? result.content[0].text : undefined;
  if (result.isError || text !== "hi") throw new Error('demo__echo did not echo "hi"');
  log("smoke test passed");
  await shutdown(0);
}

/** @param {DemoSeed} seed */
function printBanner(seed) {
  const url = seed.preset.url;
  const auth = seed.token ? ` -H 'Authorization: Bearer ${seed.token}'` : "";
  const lines = [
    "",
    "mcpgate is running.",
    "",
    `  Demo preset:  ${url}`,
    ...(seed.token ? [`  Demo token:   ${seed.token}   (shown once: it is only returned when the user is created)`] : []),
    `  Web console:  ${gatewayUrl}/console  (sign in with a user's API token${seed.token ? ", e.g. the demo token" : ""})`,
    `  Admin API:    ${gatewayUrl}/api/v1  (Authorization: Bearer <ADMIN_TOKEN from .dev.vars>)`,
    "",
    "Connect a client:",
    "  MCP Inspector:  npx @modelcontextprotocol/inspector",
    `                  then Transport "Streamable HTTP", URL ${url}`,
    `  Claude Code:    claude mcp add --transport http mcpgate-demo ${url}${seed.token ? ` --header "Authorization: Bearer ${seed.token}"` : ""}`,
    "  curl:",
    `    curl -i -X POST ${url}${auth} \\`,
    `      -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\`,
    `      -H 'MCP-Protocol-Version: 2025-11-25' \\`,
    `      -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"0"}}}'`,
    "",
    "Ctrl+C stops the gateway and the demo upstream.",
    "",
  ];
  console.log(lines.join("\n"));
}

/** @param {string} message */
function fail(message) {
  console.error(`\n[dev] ${message}`);
  void shutdown(1);
}

/** @param {string} message */
function log(message) {
  console.log(`[dev] ${message}`);
}

/** @param {number} p @param {string} flag */
async function assertPortFree(p, flag) {
  const probe = createServer();
  await new Promise((resolve, reject) => probe.once("error", reject).listen(p, "127.0.0.1", () => resolve(undefined))).catch((err) => {
    throw new Error(`127.0.0.1:${p} is not free (${err.code ?? err.message}); pick another with ${flag}`);
  });
  await new Promise((resolve) => probe.close(() => resolve(undefined)));
}

/** @param {string | undefined} value @param {string} flag */
function parsePort(value, flag) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    console.error(`[dev] ${flag} must be a port number, got "${value}"`);
    process.exit(2);
  }
  return n;
}
