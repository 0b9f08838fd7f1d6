/**
 * The extra `wrangler dev` row: the same gateway as `npm run dev` serves it. wrangler runs its
 * own proxy worker in front of the user worker (and reloads on change), which costs a few ms
 * per request, so this row only shows what local development feels like; the main rows use
 * the Miniflare API directly (gateway.mjs).
 *
 * It runs from a copy of wrangler.toml in a scratch directory (main and migrations_dir made
 * absolute): no `.dev.vars` or `.wrangler/state` of the checkout is read or written, and the
 * secrets come from --var.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { runWranglerCaptured, WRANGLER_BIN, WRANGLER_ENV } from "./build.mjs";

const START_TIMEOUT_MS = 60_000;

/** A free loopback port (bound and released; wrangler dev needs a number). */
async function freePort() {
  const srv = createServer();
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", () => resolve(undefined)));
  const port = /** @type {import('node:net').AddressInfo} */ (srv.address()).port;
  await new Promise((resolve) => srv.close(() => resolve(undefined)));
  return port;
}

/**
 * `port`/`inspectorPort`: listen there (a restart on the same persist dir keeps its URL, see
 * bench/soak.mjs); free ports otherwise. `kill()` is a crash: SIGKILL to the whole process group.
 * @param {{ srcRoot: string, dir: string, persistDir: string, secrets: Record<string, string>, onStart?: (pid: number) => void,
 *   port?: number, inspectorPort?: number, migrate?: boolean }} o  migrate: false skips applying the D1 migrations (a restart on state that has them)
 * @returns {Promise<{ url: string, pid: number, port: number, inspectorPort: number, stop: () => Promise<void>, kill: () => Promise<void> }>}
 */
export async function startWranglerDev({ srcRoot, dir, persistDir, secrets, onStart, port: wantPort, inspectorPort: wantInspector, migrate = true }) {
  mkdirSync(dir, { recursive: true });
  const toml = readFileSync(join(srcRoot, "wrangler.toml"), "utf8")
    .replace(/^main\s*=\s*"([^"]+)"/m, (_, p) => `main = ${JSON.stringify(join(srcRoot, p))}`)
    .replace(/^migrations_dir\s*=\s*"([^"]+)"/m, (_, p) => `migrations_dir = ${JSON.stringify(join(srcRoot, p))}`);
  writeFileSync(join(dir, "wrangler.toml"), toml);
  const persist = persistDir;
  if (migrate) await runWranglerCaptured(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist], { cwd: dir });

  const port = wantPort ?? (await freePort());
  const inspectorPort = wantInspector ?? (await freePort());
  const vars = Object.entries({ ...secrets, ALLOW_INSECURE_UPSTREAMS: "true" }).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-ip",
    "127.0.0.1",
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persist,
    "--log-level",
    "warn",
    "--show-interactive-dev-session=false",
    ...vars,
  ];
  // Own process group, so stopping it also stops the workerd processes it spawned.
  const child = spawn(process.execPath, [WRANGLER_BIN, ...args], { cwd: dir, env: WRANGLER_ENV, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let log = "";
  child.stdout?.on("data", (d) => (log = (log + d).slice(-8000)));
  child.stderr?.on("data", (d) => (log = (log + d).slice(-8000)));
  const pid = /** @type {number} */ (child.pid);
  onStart?.(pid);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      process.kill(-pid, "SIGTERM");
    } catch {}
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {}
    }, 5_000);
    await exited;
    clearTimeout(timer);
    try {
      process.kill(-pid, "SIGKILL");
    } catch {} // workerd may outlive wrangler by a moment
  };

  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
    await exited;
  };

  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < until) {
    if (child.exitCode !== null) break;
    const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { url, pid, port, inspectorPort, stop, kill };
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`wrangler dev did not become healthy:\n${log}`);
}
