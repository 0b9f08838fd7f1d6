/**
 * `npm run conformance [-- --versions 2025-06-18,2025-11-25,2026-07-28] [--scenario <name>] [--keep-results] [--no-docs] [--no-pin]`
 *
 * Runs the official MCP conformance suite against our conformance upstreams twice per protocol
 * revision, once directly and once through a preset of the gateway, and prints the pass counts
 * side by side, scenario by scenario:
 *
 *   1. make sure .tools/ has the pinned suite and the Node it needs (npm install if not)
 *   2. start test/fixtures/conformance-upstream.mjs (the 2025 revisions) and, when 2026-07-28 is
 *      asked for, test/fixtures/conformance-modern-upstream.mjs on 127.0.0.1 (any free ports)
 *   3. start the gateway with `wrangler dev` on 127.0.0.1 (free ports) with its own fresh local
 *      state in a temporary directory (migrations applied, nothing shared with `npm run dev`)
 *   4. seed through the REST API: user → server (the upstream) → public preset with every tool,
 *      plain tool naming if the API takes it (else the default prefixed naming, said loudly); the
 *      modern upstream gets its own server and preset (a failure there only empties its column)
 *   5. per revision: the suite against the upstream, then against the preset, each scenario and
 *      each run bounded in time. The 2025 revisions run `--suite all` behind a protocol pin
 *      (scripts/lib/protocol-pin.mjs) so their sessions really speak that revision; 2026-07-28 has
 *      no initialize to pin and runs the server scenarios its requirements file
 *      (requirements/2026-07-28.yaml in the suite's package) lists, one `--scenario` at a time
 *   6. print the table and write it to docs/conformance.md (not with --no-docs or --scenario),
 *      stop everything (--keep-results keeps the suite's raw checks.json files and, for 2026-07-28,
 *      each scenario's recorded exchanges.json and, through the preset, upstream-exchanges.json)
 *
 * Exits 0 whatever the suite finds; 1 only when the harness itself failed (tools, upstream,
 * gateway, seeding, or a run that produced no result at all).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startConformanceModernUpstream } from "../test/fixtures/conformance-modern-upstream.mjs";
import { startConformanceUpstream } from "../test/fixtures/conformance-upstream.mjs";
import { differenceNotes, failureNotes, featureNotes, resultTable, wireNotes } from "./lib/conformance-report.mjs";
import { ensureSuite, NODE_VERSION, requiredServerScenarios, runScenarios, runSuite, SUITE_PACKAGE, SUITE_VERSION } from "./lib/conformance-suite.mjs";
import { ensureDevVars, readDevVars } from "./lib/dev-vars.mjs";
import { startProtocolPin } from "./lib/protocol-pin.mjs";
import { exitOf, runWrangler, spawnWrangler, stopProcessGroup } from "./lib/wrangler.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TOOLS_DIR = join(ROOT, ".tools");
const DOC_PATH = join(ROOT, "docs", "conformance.md");
const SUPPORTED_VERSIONS = ["2025-06-18", "2025-11-25", "2026-07-28"];
/** Revisions of the modern (stateless, no initialize) era: their own upstream, preset and scenario list. */
const MODERN_VERSIONS = new Set(["2026-07-28"]);
const HEALTH_TIMEOUT_MS = 90_000;
const SCENARIO_TIMEOUT_MS = 20_000;
const RUN_TIMEOUT_MS = 8 * 60_000;
/** Upper bound for the whole harness, so a stuck step can never leave it (or what it started) running. */
const HARNESS_TIMEOUT_MS = 40 * 60_000;
const HANDLE = "conformance";
const SERVER = "suite";
const SLUG = "suite";
const MODERN_SERVER = "suite-modern";
const MODERN_SLUG = "suite-modern";

const { values: opts } = parseArgs({
  options: {
    versions: { type: "string", default: SUPPORTED_VERSIONS.join(",") },
    scenario: { type: "string" },
    "keep-results": { type: "boolean", default: false },
    "no-docs": { type: "boolean", default: false },
    "no-pin": { type: "boolean", default: false },
  },
});
const versions = opts.versions
  .split(",")
  .map((v) => v.trim())
  .filter(Boolean);
for (const v of versions) {
  if (!SUPPORTED_VERSIONS.includes(v)) {
    console.error(`[conformance] --versions: ${v} is not one of ${SUPPORTED_VERSIONS.join(", ")}`);
    process.exit(2);
  }
}

const started = Date.now();
const resultsDir = mkdtempSync(join(tmpdir(), "mcpgate-conformance-"));
/** The gateway's local D1 and Durable Object state for this run only: nothing shared with `npm run dev`. */
const PERSIST_DIR = join(resultsDir, "wrangler-state");
/** @type {import('node:child_process').ChildProcess | undefined} */
let wrangler;
/** @type {Awaited<ReturnType<typeof startConformanceUpstream>> | undefined} */
let upstream;
/** @type {Awaited<ReturnType<typeof startConformanceModernUpstream>> | undefined} */
let modernUpstream;
/** Records what the gateway sends the modern upstream (the modern preset's server URL points at it). @type {import('./lib/protocol-pin.mjs').ProtocolPin | undefined} */
let upstreamRecorder;
/** @type {Promise<never> | undefined} */
let stopping;
/** Aborted on shutdown: stops a suite run in flight. */
const aborter = new AbortController();

function shutdown(/** @type {number} */ code) {
  stopping ??= (async () => {
    aborter.abort();
    await Promise.allSettled([wrangler && stopProcessGroup(wrangler), upstream?.close(), modernUpstream?.close(), upstreamRecorder?.close()]);
    if (opts["keep-results"]) log(`raw results kept in ${resultsDir}`);
    else rmSync(resultsDir, { recursive: true, force: true });
    process.exit(code);
  })();
  return stopping;
}
for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM", "SIGHUP"])) {
  process.on(signal, () => {
    log(`${signal} received, stopping…`);
    void shutdown(1);
  });
}
setTimeout(() => fail(`the harness did not finish within ${HARNESS_TIMEOUT_MS / 60_000} min`), HARNESS_TIMEOUT_MS).unref();

try {
  await main();
  await shutdown(0);
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}

async function main() {
  const suite = ensureSuite(TOOLS_DIR, log);

  const { created } = ensureDevVars(join(ROOT, ".dev.vars"), join(ROOT, ".dev.vars.example"));
  if (created) log("created .dev.vars from .dev.vars.example with fresh random secrets");
  const adminToken = readDevVars(join(ROOT, ".dev.vars")).ADMIN_TOKEN;
  if (!adminToken) throw new Error(".dev.vars has no ADMIN_TOKEN; delete it to have it recreated from .dev.vars.example");

  const legacyVersions = versions.filter((v) => !MODERN_VERSIONS.has(v));
  const modernVersions = versions.filter((v) => MODERN_VERSIONS.has(v));
  upstream = await startConformanceUpstream({ port: 0 });
  log(`conformance upstream on ${upstream.url}`);
  if (modernVersions.length) {
    modernUpstream = await startConformanceModernUpstream({ port: 0 });
    upstreamRecorder = await startProtocolPin({ target: modernUpstream.url, record: true });
    log(`conformance modern upstream on ${modernUpstream.url} (the gateway reaches it through a recorder at ${upstreamRecorder.url})`);
  }

  log(`applying D1 migrations to a fresh local state in ${PERSIST_DIR}…`);
  await runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", PERSIST_DIR], { cwd: ROOT });

  const port = await freePort();
  const gateway = `http://127.0.0.1:${port}`;
  log(`starting wrangler dev on ${gateway}…`);
  wrangler = spawnWrangler(
    [
      "dev",
      ...["--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(await freePort())],
      ...["--persist-to", PERSIST_DIR, "--var", "ALLOW_INSECURE_UPSTREAMS:true", "--log-level", "warn", "--show-interactive-dev-session=false"],
    ],
    { cwd: ROOT },
  );
  const wranglerExit = exitOf(wrangler);
  void wranglerExit.then((code) => {
    if (!stopping) fail(`wrangler dev exited (${code}) while the harness needed it`);
  });
  await waitForHealth(gateway, wranglerExit);

  const user = await api(gateway, adminToken, "POST", "/users", { handle: HANDLE }, 201);
  const userToken = /** @type {string} */ (user.token);
  const seed = await seedPreset(gateway, userToken, { server: SERVER, slug: SLUG, upstreamUrl: upstream.url });
  log(`preset ${seed.url} (${seed.naming} tool naming)`);
  /** @type {Seed | undefined} */
  let modernSeed;
  let modernSeedError = "";
  if (modernUpstream) {
    try {
      modernSeed = await seedPreset(gateway, userToken, { server: MODERN_SERVER, slug: MODERN_SLUG, upstreamUrl: upstreamRecorder?.url ?? modernUpstream.url });
      log(`modern preset ${modernSeed.url} (${modernSeed.naming} tool naming)`);
    } catch (err) {
      modernSeedError = err instanceof Error ? err.message : String(err);
      log(`NOTE: seeding the modern preset failed, so its columns stay empty: ${modernSeedError}`);
    }
  }

  /** @type {import('./lib/conformance-report.mjs').Column[]} */
  const columns = [];
  /** @type {string[]} */
  const pinNotes = [];
  /** @type {string[]} */
  const modernNotes = [];
  for (const version of [...legacyVersions, ...modernVersions]) {
    const modern = MODERN_VERSIONS.has(version);
    const required = modern ? requiredServerScenarios(suite.cli, version) : [];
    if (modern) modernNotes.push(`${version}: the ${required.length} server scenarios of the suite's requirements/${version}.yaml`);
    for (const [target, url] of /** @type {const} */ ([
      ["direct", modern ? modernUpstream?.url : upstream.url],
      ["via preset", modern ? modernSeed?.url : seed.url],
    ])) {
      const label = `${version} ${target}`;
      if (!url) {
        log(`  ${label}: not run (${modernSeedError || "no target"})`);
        modernNotes.push(`${label}: not run, seeding its preset failed: ${modernSeedError}`);
        continue;
      }
      // 2026-07-28: nothing to pin, but the proxy records each scenario's exchanges for the report.
      const pin = modern
        ? await startProtocolPin({ target: url, record: true })
        : opts["no-pin"]
          ? undefined
          : await startProtocolPin({ target: url, version });
      /** @type {Map<string, import('./lib/protocol-pin.mjs').Exchange[]>} */
      const exchanges = new Map();
      /** What the gateway sent upstream during each scenario (through the preset). @type {Map<string, import('./lib/protocol-pin.mjs').Exchange[]>} */
      const upstreamExchanges = new Map();
      upstreamRecorder?.takeExchanges(); // whatever came before this column (seeding, the previous column)
      log(`running the suite (${version}) ${target === "direct" ? "directly against the upstream" : "through the preset"}…`);
      if (target !== "direct" && version === versions[0])
        log('(workerd may log "disconnected: ::write(...): Broken pipe": the suite\'s client hanging up on reply bodies it does not read; harmless)');
      const t = Date.now();
      const common = {
        ...suite,
        url: pin?.url ?? url,
        specVersion: version,
        outputDir: join(resultsDir, `${version}-${target.replace(" ", "-")}`),
        scenarioTimeoutMs: SCENARIO_TIMEOUT_MS,
        runTimeoutMs: RUN_TIMEOUT_MS,
        signal: aborter.signal,
      };
      const run = modern
        ? await runScenarios({
            ...common,
            scenarios: opts.scenario ? [opts.scenario] : required,
            onScenarioDone: (scenario) => {
              exchanges.set(scenario, pin?.takeExchanges() ?? []);
              upstreamExchanges.set(scenario, upstreamRecorder?.takeExchanges() ?? []);
              if (opts["keep-results"]) {
                // Beside the suite's checks.json: every exchange of the scenario, client side and (through the preset) upstream side.
                const dir = join(common.outputDir, scenario);
                mkdirSync(dir, { recursive: true });
                writeFileSync(join(dir, "exchanges.json"), JSON.stringify(exchanges.get(scenario), null, 2));
                if (target === "via preset") writeFileSync(join(dir, "upstream-exchanges.json"), JSON.stringify(upstreamExchanges.get(scenario), null, 2));
              }
            },
          })
        : await runSuite({ ...common, scenario: opts.scenario });
      const stats = pin?.stats() ?? { initializesPinned: 0, requestedVersions: {}, headerVersions: {} };
      await pin?.close();
      if (modern && opts.scenario && run.scenarios.length === 0 && run.exitCode === 0) {
        log(`  ${label}: ${opts.scenario} does not apply at ${version} (the suite skipped it)`);
        continue;
      }
      if (run.scenarios.length === 0) {
        throw new Error(
          `the suite produced no result for ${label} (exit ${run.exitCode}${run.timedOut ? ", time limit hit" : ""}): ${run.stderr.trim().slice(-2000)}`,
        );
      }
      const passed = run.scenarios.reduce((n, s) => n + s.passed, 0);
      const total = run.scenarios.reduce((n, s) => n + s.passed + s.failed, 0);
      const negotiated = Object.entries(stats.headerVersions)
        .map(([v, n]) => `${v}×${n}`)
        .join(", ");
      log(`  ${label}: ${passed}/${total} checks passed in ${((Date.now() - t) / 1000).toFixed(1)} s${run.timedOut ? " (cut off by the time limit)" : ""}`);
      if (pin && !modern)
        pinNotes.push(
          `${label}: ${stats.initializesPinned} initialize requests set to ${version} (the clients asked for ${fmtCounts(stats.requestedVersions)}); the other requests carried MCP-Protocol-Version ${negotiated || "none"}`,
        );
      columns.push({ version, target, run, ...(modern ? { exchanges, ...(target === "via preset" ? { upstreamExchanges } : {}) } : {}) });
    }
  }

  const wallSeconds = Math.round((Date.now() - started) / 1000);
  const table = resultTable(columns);
  const notes = failureNotes(columns);
  const needs = featureNotes(columns);
  const differences = differenceNotes(columns);
  const wire = wireNotes(columns);
  console.log(`\n${table}\n`);
  console.log(`What the scenarios failing through the preset exercise:\n${needs}`);
  console.log(`Fewer checks passed through the preset than directly:\n${differences}`);
  if (wire) console.log(`Failing checks through the preset, with the wire:\n${wire}`);
  console.log(`wall time ${wallSeconds} s\n`);
  if (seed.naming !== "plain") console.log(`NOTE: ${seed.namingNote}\n`);
  if (opts.scenario) log("--scenario run: docs/conformance.md left as it is");
  else if (!opts["no-docs"]) {
    mkdirSync(dirname(DOC_PATH), { recursive: true });
    writeFileSync(DOC_PATH, renderDoc({ table, notes, needs, differences, wire, pinNotes, modernNotes, seed, wallSeconds }));
    log(`wrote ${DOC_PATH.slice(ROOT.length)}`);
  }
}

/**
 * @param {{ table: string, notes: string, needs: string, differences: string, wire: string, pinNotes: string[], modernNotes: string[], seed: Seed, wallSeconds: number }} r
 */
function renderDoc({ table, notes, needs, differences, wire, pinNotes, modernNotes, seed, wallSeconds }) {
  const commit = git(["rev-parse", "--short", "HEAD"]) || "unknown";
  const dirty = git(["status", "--porcelain"]) ? " with uncommitted changes" : "";
  const command = `npm run conformance${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  return `# MCP conformance

Generated by \`${command}\` on ${new Date().toISOString()} (wall time ${wallSeconds} s).

- **Suite**: \`${SUITE_PACKAGE}@${SUITE_VERSION}\`, server mode, \`--suite all --spec-version <revision>\` for the 2025
  revisions (pending scenarios included and marked), on Node v${NODE_VERSION}; both pinned and installed into \`.tools/\` by the harness.
- **Upstream**: \`test/fixtures/conformance-upstream.mjs\`, our SDK server implementing what the server scenarios expect
  (tools, resources, prompts, completion, logging, progress, sampling, elicitation, resumable SSE).
- **Through the gateway**: a public preset of \`wrangler dev\` (commit ${commit}${dirty}) at \`/mcp/${HANDLE}/${SLUG}\`, with that
  upstream attached (all tools), **${seed.naming}** tool naming.${seed.naming === "plain" ? "" : ` ${seed.namingNote}`}${
    modernNotes.length
      ? `
- **2026-07-28**: \`--spec-version 2026-07-28 --scenario <name>\` for each server scenario the suite's frozen requirements list
  (its not-scored extension and pending scenarios left out), against \`test/fixtures/conformance-modern-upstream.mjs\`, an
  SDK v2 server (\`createMcpHandler\` of \`@modelcontextprotocol/server\`: server/discover, the per-request \`_meta\`
  envelope, input_required tools and prompt, caching hints; 2025 clients get sessions), directly and through a second preset,
  \`/mcp/${HANDLE}/${MODERN_SLUG}\`, with only that upstream attached. Nothing to pin: the revision has no initialize.
${modernNotes.map((n) => `  - ${n}`).join("\n")}`
      : ""
  }
- **Protocol revision**: the suite's SDK-driven scenarios always ask for its latest revision at \`initialize\`, ${
    pinNotes.length
      ? `so every 2025 run
  goes through \`scripts/lib/protocol-pin.mjs\`, which rewrites the requested version to the column's revision:
${pinNotes.map((n) => `  - ${n}`).join("\n")}`
      : "and this run was not pinned (`--no-pin`): their sessions negotiated that revision whatever the column says."
  }

## Results

Cells: ✓ or ✗, then passed/total checks (SUCCESS and FAILURE; ⚠n counts warnings); ○ 0/0 where the scenario only
logged informational checks (nothing it could score); – where the scenario does not apply at that revision. Most
scenarios' counts include a \`wire-schema-valid\` check: every message the server sent is valid per that revision's
JSON schema.

${table}

## What the scenarios failing through the preset exercise

${needs}
## Fewer checks through the preset than directly

${differences}
## Failing checks

The suite's own message for every failing or warning check.

${notes}${
  wire
    ? `
## Failing checks through the preset, with the wire

For the columns recorded by the harness's proxies: each failing (or warning) check with the suite's details and, when
the check names it, the request behind it; then, for a scenario with failures, the first exchange the gateway answered
with an error (an HTTP status of 400 or more, or a JSON-RPC error); then what the gateway sent the upstream meanwhile.
Bodies are cut short; \`--keep-results\` keeps every exchange.

${wire}`
    : ""
}`;
}

/**
 * @typedef {{ url: string, naming: 'plain' | 'prefixed', namingNote: string }} Seed
 * @param {string} gateway @param {string} token the seeded user's API token
 * @param {{ server: string, slug: string, upstreamUrl: string }} target
 * @returns {Promise<Seed>}
 */
async function seedPreset(gateway, token, { server, slug, upstreamUrl }) {
  await api(gateway, token, "POST", "/servers", { name: server, url: upstreamUrl, timeoutMs: 30_000 }, 201);
  const tools = await api(gateway, token, "GET", `/servers/${server}/tools`, undefined, 200);
  log(`the gateway sees ${Array.isArray(tools.tools) ? tools.tools.length : "?"} tools on ${server}`);

  const preset = {
    slug,
    name: slug === SLUG ? "Conformance suite" : `Conformance suite (${slug})`,
    visibility: "public",
    rateLimit: { requests: 100_000, windowSeconds: 60 },
  };
  /** @type {Seed['naming']} */
  let naming = "plain";
  let namingNote = "";
  let created = await apiRaw(gateway, token, "POST", "/presets", { ...preset, toolNaming: "plain" });
  if (created.status === 400 && created.body?.error?.code === "unknown_field") {
    naming = "prefixed";
    namingNote = `POST /api/v1/presets refused toolNaming ("${created.body.error.message}"), so tools are exposed as ${server}__<tool> and every scenario that calls a tool by its name fails through the preset for that reason alone.`;
    log(`NOTE: ${namingNote}`);
    created = await apiRaw(gateway, token, "POST", "/presets", preset);
  }
  if (created.status !== 201) throw new Error(`POST /api/v1/presets answered ${created.status} ${JSON.stringify(created.body).slice(0, 500)}`);
  await api(gateway, token, "PUT", `/presets/${slug}/servers/${server}`, { tools: null }, 201);
  const url = typeof created.body?.url === "string" ? created.body.url : `${gateway}/mcp/${HANDLE}/${slug}`;
  return { url, naming, namingNote };
}

/** @param {string} gateway @param {string} token @param {string} method @param {string} path @param {unknown} body @param {number} expect */
async function api(gateway, token, method, path, body, expect) {
  const res = await apiRaw(gateway, token, method, path, body);
  if (res.status !== expect) throw new Error(`${method} /api/v1${path} answered ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
  return res.body;
}

/** @param {string} gateway @param {string} token @param {string} method @param {string} path @param {unknown} [body] */
async function apiRaw(gateway, token, method, path, body) {
  const res = await fetch(`${gateway}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  /** @type {any} */
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = { text: text.slice(0, 500) };
  }
  return { status: res.status, body: json };
}

/** @param {string} gateway @param {Promise<unknown>} wranglerExit */
async function waitForHealth(gateway, wranglerExit) {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let exited = false;
  void wranglerExit.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    try {
      const res = await fetch(`${gateway}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(
    exited ? "wrangler dev exited before the gateway became healthy" : `GET ${gateway}/healthz did not answer 200 within ${HEALTH_TIMEOUT_MS / 1000} s`,
  );
}

/** A port nobody listens on right now (the OS picks it). */
async function freePort() {
  const probe = createServer();
  await new Promise((resolve, reject) => probe.once("error", reject).listen(0, "127.0.0.1", () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (probe.address());
  await new Promise((resolve) => probe.close(() => resolve(undefined)));
  return port;
}

/** @param {string[]} args */
function git(args) {
  const res = spawnSync("git", args, { cwd: ROOT, encoding: "utf8" });
  return res.status === 0 ? res.stdout.trim() : "";
}

/** @param {Record<string, number>} counts */
function fmtCounts(counts) {
  return (
    Object.entries(counts)
      .map(([k, n]) => `${k}×${n}`)
      .join(", ") || "nothing"
  );
}

/** @param {string} message */
function fail(message) {
  console.error(`\n[conformance] ${message}`);
  void shutdown(1);
}

/** @param {string} message */
function log(message) {
  console.log(`[conformance] ${message}`);
}
