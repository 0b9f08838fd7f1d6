/**
 * Child processes of a run, and the guarantee that none outlives it.
 *
 * Node children (upstream, peer) are forked with an IPC channel and exit on 'disconnect', which
 * also fires when this process dies, even by SIGKILL. Processes we do not control that way
 * (Miniflare's workerd, the wrangler dev group) are registered with a guard: a tiny detached Node
 * process that waits on its own IPC channel to us and, when that closes without a clean stop,
 * kills what it was told about.
 */
import { fork, spawn } from "node:child_process";

/**
 * Forks `modulePath` and resolves with its first IPC message (its "ready" report).
 * @param {string} modulePath @param {string[]} args @param {{ timeoutMs?: number }} [options]
 * @returns {Promise<{ child: import('node:child_process').ChildProcess, ready: any }>}
 */
export function forkReady(modulePath, args = [], { timeoutMs = 30_000 } = {}) {
  const child = fork(modulePath, args, { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${modulePath} did not report ready within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once("message", (ready) => {
      clearTimeout(timer);
      resolve({ child, ready });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${modulePath} exited (${code}) before it was ready`));
    });
  });
}

/** Stops a forked child: disconnect (it exits by itself), SIGKILL if it lingers. @param {import('node:child_process').ChildProcess} child */
export async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  if (child.connected) child.disconnect();
  else child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
  await exited;
  clearTimeout(timer);
}

const GUARD_SOURCE = `
const targets = new Set();
process.on('message', (m) => {
  if (m.watch) targets.add(m.watch);
  if (m.unwatch) targets.delete(m.unwatch);
  if (m.done) process.exit(0);
});
process.on('disconnect', () => {
  for (const t of targets) { try { process.kill(t, 'SIGKILL'); } catch {} }
  process.exit(0);
});
for (const s of ['SIGINT', 'SIGHUP', 'SIGTERM']) process.on(s, () => {});
`;

/** Starts the guard. `watch(pid)` (or a negative process-group id) adds a process to kill if we die. */
export function startGuard() {
  const guard = spawn(process.execPath, ["-e", GUARD_SOURCE], { stdio: ["ignore", "ignore", "ignore", "ipc"], detached: true });
  guard.unref();
  /** @type {any} */ (guard.channel)?.unref?.();
  return {
    /** @param {number} pid */
    watch: (pid) => guard.connected && guard.send({ watch: pid }),
    /** @param {number} pid */
    unwatch: (pid) => guard.connected && guard.send({ unwatch: pid }),
    /** A clean end: the guard leaves everything alone. */
    done: () => {
      if (guard.connected) {
        guard.send({ done: true });
        guard.disconnect();
      }
    },
  };
}
