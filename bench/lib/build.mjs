/**
 * Builds what the benchmark runs: the production bundle of the gateway, exactly as
 * `wrangler deploy` would upload it (`--dry-run --outdir`), and the naive-proxy worker (esbuild,
 * since it imports the MCP SDK). The gateway build also gives the bundle size the issue tracks.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const require = createRequire(import.meta.url);
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const WRANGLER_BIN = join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");

/**
 * Non-interactive, offline wrangler (see scripts/lib/wrangler.mjs for why each variable).
 * NO_UPDATE_NOTIFIER: wrangler otherwise asks the registry whether a newer version exists.
 */
export const WRANGLER_ENV = {
  ...process.env,
  CI: "true",
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  NO_UPDATE_NOTIFIER: "1",
};

/**
 * The source tree to benchmark: the working tree, or with `ref` a committed version extracted
 * with `git archive` into `dir` (node_modules linked from the checkout). `--ref HEAD` measures
 * the last commit while src/ is being edited.
 * @param {string | undefined} ref @param {string} dir
 * @returns {{ root: string, commit: string | null, dirty: boolean | null }}
 */
export function prepareSource(ref, dir) {
  const git = (/** @type {string[]} */ args) => execFileSync("git", ["-C", ROOT, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  let commit = null;
  let dirty = null;
  try {
    commit = git(["rev-parse", ref ?? "HEAD"]).trim();
    dirty = ref ? false : git(["status", "--porcelain", "--", "src", "migrations", "wrangler.toml"]).trim() !== "";
  } catch {
    if (ref) throw new Error(`--ref ${ref}: not a git revision of ${ROOT}`);
  }
  if (!ref) return { root: ROOT, commit, dirty };
  mkdirSync(dir, { recursive: true });
  execFileSync("sh", ["-c", 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', "sh", ROOT, /** @type {string} */ (commit), dir]);
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return { root: dir, commit, dirty };
}

/**
 * Runs wrangler in `cwd` to completion, capturing its output; rejects on failure or after `timeoutMs`.
 * @param {string[]} args @param {{ cwd?: string, timeoutMs?: number }} [options]
 * @returns {Promise<string>} stdout + stderr
 */
export function runWranglerCaptured(args, { cwd = ROOT, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER_BIN, ...args], { cwd, env: WRANGLER_ENV, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`wrangler ${args.join(" ")} failed (${code ?? signal}):\n${out.slice(-4000)}`));
    });
  });
}

/**
 * `wrangler deploy --dry-run --outdir <outDir>` in `srcRoot`: the production bundle and its size.
 * @param {string} srcRoot @param {string} outDir
 */
export async function buildGateway(srcRoot, outDir) {
  const out = await runWranglerCaptured(["deploy", "--dry-run", "--outdir", outDir], { cwd: srcRoot });
  const modules = readdirSync(outDir).filter((f) => /\.(m?js|wasm)$/.test(f));
  let rawBytes = 0;
  let gzipBytes = 0;
  for (const file of modules) {
    const bytes = readFileSync(join(outDir, file));
    rawBytes += bytes.length;
    gzipBytes += gzipSync(bytes, { level: 9 }).length;
  }
  // Wrangler's own figure, as printed: "Total Upload: 1589.56 KiB / gzip: 289.10 KiB".
  const m = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(out);
  return {
    scriptPath: join(outDir, "index.js"),
    modules,
    rawBytes,
    gzipBytes,
    wranglerReport: m ? { totalKiB: Number(m[1]), gzipKiB: Number(m[2]) } : null,
  };
}

/**
 * Bundles bench/workers/naive-proxy.mjs with the SDK into one ES module for workerd.
 * @param {string} outFile
 */
export async function buildNaiveProxy(outFile) {
  await build({
    entryPoints: [join(ROOT, "bench/workers/naive-proxy.mjs")],
    outfile: outFile,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    // The SDK reaches for a few node: built-ins on code paths the client never runs here;
    // workerd provides them under nodejs_compat.
    external: ["node:*"],
    logLevel: "error",
  });
  return outFile;
}
