/**
 * Runs the project's own wrangler as a child process, non-interactively.
 *
 * - We start `node_modules/wrangler/bin/wrangler.js` with this Node instead of `npx wrangler`:
 *   same binary, but no npm process in between that may or may not forward our signals.
 * - stdin is not a TTY and CI=true: wrangler's `confirm()` then answers its fallback ("yes")
 *   instead of prompting, which is what makes `d1 migrations apply --local` non-interactive
 *   (wrangler 4.86 has no --yes flag for it).
 * - WRANGLER_SEND_METRICS=false: no telemetry. CLOUDFLARE_CF_FETCH_ENABLED=false: miniflare
 *   otherwise downloads a sample `request.cf` object from workers.cloudflare.com on start (and
 *   prints a stack trace when offline); local dev needs no network beyond loopback.
 * - The child gets its own process group so stopping it also stops the workerd it spawned. The
 *   price is that a terminal's Ctrl+C no longer reaches it directly, so a tiny guard process
 *   stops the group if we die without cleaning up (e.g. SIGKILL): nothing outlives `npm run dev`.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const WRANGLER_BIN = join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");

const WRANGLER_ENV = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };

/** Polls its parent; once reparented (the parent died), stops the process group it was given. */
const GUARD_SOURCE = `
const [parent, pgid] = process.argv.slice(1).map(Number);
const kill = (signal) => { try { process.kill(-pgid, signal); } catch {} };
// It shares our terminal's process group: a Ctrl+C or hang-up is for the parent to handle.
for (const signal of ['SIGINT', 'SIGHUP']) process.on(signal, () => {});
const timer = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(timer);
  kill('SIGTERM');
  setTimeout(() => { kill('SIGKILL'); process.exit(0); }, 5000);
}, 1000);
`;

/**
 * Starts `wrangler <args>` in `cwd` with its output passed through.
 * @param {string[]} args
 * @param {{ cwd: string }} options
 * @returns {import('node:child_process').ChildProcess}
 */
export function spawnWrangler(args, { cwd }) {
  const child = spawn(process.execPath, [WRANGLER_BIN, ...args], {
    cwd,
    env: WRANGLER_ENV,
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
  });
  if (child.pid !== undefined) {
    const guard = spawn(process.execPath, ["-e", GUARD_SOURCE, String(process.pid), String(child.pid)], { stdio: "ignore" });
    guard.unref();
    // Its job ends with the child: a group id left unused could later be reused by a stranger.
    child.once("exit", () => guard.kill());
  }
  return child;
}

/**
 * Runs `wrangler <args>` to completion; rejects on a non-zero exit or after `timeoutMs`.
 * @param {string[]} args
 * @param {{ cwd: string, timeoutMs?: number }} options
 * @returns {Promise<void>}
 */
export async function runWrangler(args, { cwd, timeoutMs = 120_000 }) {
  const child = spawnWrangler(args, { cwd });
  const timer = setTimeout(() => void stopProcessGroup(child), timeoutMs);
  try {
    const code = await exitOf(child);
    if (code !== 0) throw new Error(`wrangler ${args.join(" ")} exited with ${code}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves with the exit code (or signal name) once `child` has exited.
 * @param {import('node:child_process').ChildProcess} child
 * @returns {Promise<number | string>}
 */
export function exitOf(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode ?? 1);
  return new Promise((resolve) => {
    child.once("error", () => resolve(1));
    child.once("exit", (code, signal) => resolve(code ?? signal ?? 1));
  });
}

/**
 * SIGTERM to the child's whole process group, SIGKILL after `graceMs` if it is still there.
 * @param {import('node:child_process').ChildProcess} child
 * @param {number} [graceMs]
 */
export async function stopProcessGroup(child, graceMs = 5_000) {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = exitOf(child);
  signalGroup(child.pid, "SIGTERM");
  const timer = setTimeout(() => signalGroup(/** @type {number} */ (child.pid), "SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
  // wrangler may exit before workerd does; make sure nothing of the group outlives us.
  signalGroup(child.pid, "SIGKILL");
}

/** @param {number} pid @param {NodeJS.Signals} signal */
function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}
