/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`), installed pinned into
 * `.tools/` together with the Node it needs (its dependencies want Node >= 22; the machine's may
 * be 20), and run in server mode against one MCP endpoint.
 *
 * What the suite's CLI offers (0.2.0-alpha.12): `conformance server --url <mcp url>` runs the
 * server scenarios one after another, `--suite all` includes the scenarios still marked pending,
 * `--spec-version <rev>` keeps the scenarios that apply at that revision and validates every
 * wire message against that revision's JSON schema, `--timeout` bounds each scenario, and
 * `-o <dir>` writes `server-<scenario>-<timestamp>/checks.json` per scenario. Its SDK-driven
 * scenarios still ask for the SDK's latest revision at initialize whatever `--spec-version` says;
 * see protocol-pin.mjs for how the harness pins the negotiated version.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const SUITE_PACKAGE = "@modelcontextprotocol/conformance";
/** Pinned: the 0.2 line is the first whose --spec-version also fixes the revision raw scenarios speak and the schema the wire is checked against. */
export const SUITE_VERSION = "0.2.0-alpha.12";
export const NODE_VERSION = "22.23.3";

/**
 * Scenarios this suite version keeps out of its default ("active") suite as pending; `--suite all`
 * runs them and the report marks them. From the package's scenario index (pendingClientScenariosList).
 */
export const PENDING_SCENARIOS = new Set(["json-schema-2020-12", "server-sse-polling"]);

/**
 * @typedef {{ status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED', id: string, name?: string, description?: string, errorMessage?: string, details?: { message?: string } }} Check
 * @typedef {{ scenario: string, outcome: 'ran' | 'crashed' | 'not_run', passed: number, failed: number, warnings: number, checks: Check[] }} ScenarioResult
 * @typedef {{ scenarios: ScenarioResult[], exitCode: number | string, timedOut: boolean, stderr: string }} SuiteRun
 */

/**
 * Makes sure `<toolsDir>` holds the pinned Node and suite, installing them with npm if not.
 * @param {string} toolsDir
 * @param {(message: string) => void} log
 * @returns {{ node: string, cli: string }} the Node binary and the suite's CLI script
 */
export function ensureSuite(toolsDir, log) {
  const node = join(toolsDir, "node_modules", "node", "bin", "node");
  const pkg = join(toolsDir, "node_modules", ...SUITE_PACKAGE.split("/"));
  const cli = join(pkg, "dist", "index.js");

  const nodeOk = () => existsSync(node) && spawnSync(node, ["--version"], { encoding: "utf8" }).stdout?.trim() === `v${NODE_VERSION}`;
  const suiteOk = () => existsSync(cli) && readJson(join(pkg, "package.json"))?.version === SUITE_VERSION;

  if (nodeOk() && suiteOk()) {
    log(`using ${SUITE_PACKAGE}@${SUITE_VERSION} and node v${NODE_VERSION} from .tools/`);
    return { node, cli };
  }
  const args = ["install", "--prefix", toolsDir, "--save-exact", "--no-audit", "--no-fund", `node@${NODE_VERSION}`, `${SUITE_PACKAGE}@${SUITE_VERSION}`];
  log(`installing into .tools/ (git-ignored): npm ${args.join(" ")}`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const res = spawnSync(npm, args, { stdio: ["ignore", "inherit", "inherit"], timeout: 300_000 });
  if (res.status !== 0) throw new Error(`npm install into .tools/ failed (${res.error?.message ?? `exit ${res.status}`})`);
  if (!nodeOk())
    throw new Error(`.tools/node_modules/node/bin/node is not node v${NODE_VERSION} after installing (does npm run the "node" package's install script here?)`);
  if (!suiteOk()) throw new Error(`${SUITE_PACKAGE}@${SUITE_VERSION} is not in .tools/ after installing`);
  return { node, cli };
}

/**
 * The server scenarios a revision requires, as frozen in the suite's `requirements/<revision>.yaml`
 * (the `server:` list; its `not_scored` extension and pending entries are left out).
 * @param {string} cli the suite's CLI script (from ensureSuite)
 * @param {string} revision e.g. 2026-07-28
 * @returns {string[]}
 */
export function requiredServerScenarios(cli, revision) {
  const path = join(dirname(dirname(cli)), "requirements", `${revision}.yaml`);
  /** @type {string[]} */
  const names = [];
  let inServer = false;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (/^\S/.test(line)) inServer = /^server:\s*$/.test(line);
    else if (inServer) {
      const m = /^\s+-\s+([\w./-]+)\s*$/.exec(line);
      if (m) names.push(m[1]);
    }
  }
  if (names.length === 0) throw new Error(`${path} lists no server scenarios`);
  return names;
}

/**
 * Runs the named scenarios one by one (`--scenario`, each into its own output folder) and
 * collects their results in that order, within `runTimeoutMs` for all of them together: a
 * scenario left when time is up is `not_run`, one that wrote no result is `crashed` with 0/0, or
 * left out when the suite exited cleanly (it skips a scenario that does not apply at the revision).
 * `onScenarioDone` runs after each scenario that ran (e.g. to take what a recording proxy saw).
 * @param {Omit<Parameters<typeof runSuite>[0], 'scenario'> & { scenarios: string[], onScenarioDone?: (scenario: string) => void }} options
 * @returns {Promise<SuiteRun>}
 */
export async function runScenarios({ scenarios, runTimeoutMs, outputDir, onScenarioDone, ...rest }) {
  const deadline = Date.now() + runTimeoutMs;
  /** @type {ScenarioResult[]} */
  const results = [];
  let stderr = "";
  let timedOut = false;
  /** @type {number | string} */
  let exitCode = 0;
  for (const scenario of scenarios) {
    const left = deadline - Date.now();
    if (timedOut || left <= 0) {
      timedOut = true;
      results.push({ scenario, outcome: "not_run", passed: 0, failed: 0, warnings: 0, checks: [] });
      continue;
    }
    const run = await runSuite({ ...rest, scenario, outputDir: join(outputDir, scenario.replace(/\//g, "_")), runTimeoutMs: left });
    stderr = `${stderr}${run.stderr}`.slice(-100_000);
    if (run.exitCode !== 0) exitCode = run.exitCode;
    if (run.timedOut) timedOut = true;
    const result = run.scenarios.find((s) => s.scenario === scenario);
    // No result but a clean exit: the suite skipped it as not applicable at this revision.
    if (result || run.exitCode !== 0 || run.timedOut) results.push(result ?? { scenario, outcome: "crashed", passed: 0, failed: 0, warnings: 0, checks: [] });
    onScenarioDone?.(scenario);
  }
  return { scenarios: results, exitCode, timedOut, stderr };
}

/**
 * Runs the suite in server mode against `url` and collects per-scenario results. Never rejects
 * for failing checks; a run cut off by `runTimeoutMs` keeps the scenarios it finished; rejects
 * when `signal` aborts it.
 * @param {{ node: string, cli: string, url: string, specVersion: string, outputDir: string, scenario?: string, scenarioTimeoutMs: number, runTimeoutMs: number, signal?: AbortSignal, onLine?: (line: string) => void }} options
 * @returns {Promise<SuiteRun>}
 */
export async function runSuite({ node, cli, url, specVersion, outputDir, scenario, scenarioTimeoutMs, runTimeoutMs, signal, onLine }) {
  const args = [cli, "server", "--url", url, "--spec-version", specVersion, "--timeout", String(scenarioTimeoutMs), "-o", outputDir];
  args.push(...(scenario ? ["--scenario", scenario] : ["--suite", "all"]));
  const child = spawn(node, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let stdout = "";
  let stderr = "";
  let pending = "";
  child.stdout.setEncoding("utf8").on("data", (chunk) => {
    stdout += chunk;
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) onLine?.(line);
  });
  child.stderr.setEncoding("utf8").on("data", (chunk) => {
    stderr += chunk;
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });

  let timedOut = false;
  const kill = (/** @type {NodeJS.Signals} */ signal) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill("SIGTERM");
    setTimeout(() => kill("SIGKILL"), 5_000).unref();
  }, runTimeoutMs);
  // The harness stopping (Ctrl+C) stops the suite's whole process group with it.
  const onAbort = () => kill("SIGKILL");
  signal?.addEventListener("abort", onAbort, { once: true });
  const exitCode = await new Promise((resolve) => {
    child.once("error", () => resolve(1));
    child.once("close", (code, signal) => resolve(code ?? signal ?? 1));
  });
  clearTimeout(timer);
  signal?.removeEventListener("abort", onAbort);
  kill("SIGKILL"); // anything the CLI left behind in its group
  if (signal?.aborted) throw new Error("the suite run was stopped");

  return { scenarios: collectResults(stdout, outputDir), exitCode, timedOut, stderr };
}

/**
 * Per-scenario results in the order the suite ran them: the checks from `checks.json`, or, for a
 * scenario that crashed before writing one, the counts of the suite's summary line.
 * @param {string} stdout
 * @param {string} outputDir
 * @returns {ScenarioResult[]}
 */
function collectResults(stdout, outputDir) {
  /** @type {Map<string, Check[]>} */
  const checksByScenario = new Map();
  if (existsSync(outputDir)) {
    for (const entry of readdirSync(outputDir)) {
      const match = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry);
      const checks = match && readJson(join(outputDir, entry, "checks.json"));
      if (match && Array.isArray(checks)) checksByScenario.set(match[1], checks);
    }
  }
  /** @type {Map<string, { passed: number, failed: number, warnings: number }>} */
  const summary = new Map();
  for (const m of stdout.matchAll(/^[✓✗] (\S+): (\d+) passed, (\d+) failed(?:, (\d+) warnings)?/gmu)) {
    summary.set(m[1], { passed: Number(m[2]), failed: Number(m[3]), warnings: Number(m[4] ?? 0) });
  }
  const started = [...stdout.matchAll(/^=== Running scenario: (\S+) ===$/gm)].map((m) => m[1]);
  const names = [...new Set([...started, ...checksByScenario.keys(), ...summary.keys()])];

  return names.map((scenario) => {
    const checks = checksByScenario.get(scenario);
    if (checks) {
      const count = (/** @type {Check['status']} */ s) => checks.filter((c) => c.status === s).length;
      return { scenario, outcome: "ran", passed: count("SUCCESS"), failed: count("FAILURE"), warnings: count("WARNING"), checks };
    }
    const s = summary.get(scenario);
    if (s) return { scenario, outcome: "crashed", ...s, checks: [] };
    return { scenario, outcome: "not_run", passed: 0, failed: 0, warnings: 0, checks: [] };
  });
}

/** @param {string} path @returns {any} */
function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}
