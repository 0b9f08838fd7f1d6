/**
 * `node bench/profile.mjs [--workload echo-c32] [--seconds 5] [--ref <git-ref>] [--storage tmpfs|disk]`
 *
 * Where the gateway's time goes: runs one workload against the gateway with the workerd
 * inspector enabled, records a V8 CPU profile of the gateway isolate (the worker and its
 * Durable Objects share it), and prints self time by package/file and by function, mapped to the
 * original sources through the bundle's source map. Writes the profile to
 * bench/results/profile-<workload>.cpuprofile.json (open it in Chrome DevTools → Performance).
 *
 * Kept apart from `npm run bench`: an attached inspector changes what it measures.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { WebSocket } from "undici";
import { buildGateway, buildNaiveProxy, prepareSource, ROOT } from "./lib/build.mjs";
import { forkReady, startGuard, stopChild } from "./lib/children.mjs";
import { summarizeProfile } from "./lib/cpuprofile.mjs";
import { runCell } from "./lib/driver.mjs";
import { benchSecrets, seedGateway, startMiniflare } from "./lib/gateway.mjs";
import { CATALOG_SIZES, opFor, SCOPE_CALLERS, TARGETS, WORKLOADS } from "./lib/plan.mjs";
import { descendantsNamed } from "./lib/procfs.mjs";
import { summarize } from "./lib/stats.mjs";

const { values: opts } = parseArgs({
  options: {
    workload: { type: "string", default: "echo-c32" },
    seconds: { type: "string", default: "5" },
    ref: { type: "string" },
    storage: { type: "string", default: "tmpfs" },
    target: { type: "string", default: "gateway" },
  },
});
const workload = WORKLOADS.find((w) => w.id === opts.workload);
const target = TARGETS.find((t) => t.id === opts.target);
if (!workload || !target) throw new Error(`unknown workload or target; workloads: ${WORKLOADS.map((w) => w.id).join(", ")}`);

const tmp = mkdtempSync(join(tmpdir(), "mcpgate-profile-"));
const state = mkdtempSync(join(opts.storage === "disk" ? tmp : "/dev/shm", "mcpgate-profile-state-"));
const guard = startGuard();
const hardStop = setTimeout(() => process.exit(1), 180_000);
hardStop.unref();
/** @type {(() => Promise<unknown> | unknown)[]} */
const cleanups = [];
try {
  const src = prepareSource(opts.ref, join(tmp, "src"));
  const bundle = await buildGateway(src.root, join(tmp, "dist"));
  const naivePath = await buildNaiveProxy(join(tmp, "naive", "naive-proxy.mjs"));
  const upstream = await forkReady(join(ROOT, "bench/servers/upstream.mjs"));
  cleanups.push(() => stopChild(upstream.child));
  const secrets = benchSecrets();
  const { mf, urls } = await startMiniflare({
    srcRoot: src.root,
    scriptPath: bundle.scriptPath,
    naivePath,
    upstreamBase: upstream.ready.url,
    persistDir: state,
    secrets,
    inspectorPort: 0,
  });
  cleanups.push(() => mf.dispose());
  for (const pid of descendantsNamed(process.pid, "workerd")) guard.watch(pid);
  const seed = await seedGateway(urls.gateway, secrets.ADMIN_TOKEN, upstream.ready.url, CATALOG_SIZES, workload.callers ? SCOPE_CALLERS : 0);

  const endpoints = { upstream: upstream.ready.url, ...urls, peer: {}, handle: seed.handle, token: seed.token, callerTokens: seed.callerTokens };
  const addr = target.address(workload, endpoints);
  const load = (/** @type {number} */ ms) =>
    runCell({
      origin: addr.origin,
      path: addr.path,
      headers: addr.headers,
      clientHeaders: addr.clientHeaders,
      concurrency: workload.concurrency,
      durationMs: ms,
      op: opFor(workload.op, addr.toolPrefix),
      era: workload.era,
    });
  await load(1_500); // warm: JIT, upstream session, caches

  const inspector = await mf.getInspectorURL();
  const ws = new WebSocket(new URL("/core:user:gateway", inspector));
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", reject, { once: true });
  });
  let nextId = 1;
  /** @type {Map<number, (v: any) => void>} */
  const pending = new Map();
  ws.addEventListener("message", (ev) => {
    const msg = JSON.parse(String(ev.data));
    if (msg.id && pending.has(msg.id)) pending.get(msg.id)?.(msg.result ?? msg.error);
  });
  const send = (/** @type {string} */ method, params = {}) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 100 });
  await send("Profiler.start");
  const r = await load(Number(opts.seconds) * 1000);
  const { profile } = /** @type {any} */ (await send("Profiler.stop"));
  ws.close();

  const s = summarize(r.latencies, r.wallMs);
  const summary = summarizeProfile(profile, `${bundle.scriptPath}.map`, (url) => url.endsWith("index.js"));
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  const out = join(ROOT, `bench/results/profile-${target.id}-${workload.id}.cpuprofile.json`);
  writeFileSync(out, JSON.stringify(profile));
  const pct = (/** @type {number} */ x) => `${(x * 100).toFixed(1)}%`;
  console.log(`## CPU profile: ${target.id}, ${workload.label}, ${opts.seconds} s (inspector attached)\n`);
  console.log(
    `${s.n} requests, p50 ${s.p50Ms.toFixed(2)} ms, ${s.rps.toFixed(0)} req/s, ${r.errors} errors; isolate busy ${summary.busyMs.toFixed(0)} ms of ${summary.wallMs.toFixed(0)} ms ` +
      `= ${(summary.busyMs / Math.max(1, s.n)).toFixed(3)} ms of JS thread per request\n`,
  );
  console.log("| self time by package / file | ms | share of busy |\n|---|--:|--:|");
  for (const a of summary.areas) console.log(`| ${a.name} | ${a.ms.toFixed(1)} | ${pct(a.shareOfBusy)} |`);
  console.log("\n| total time (self + callees) of our functions | ms | share of busy |\n|---|--:|--:|");
  for (const f of summary.ourInclusive) console.log(`| ${f.name.replaceAll("|", "\\|")} | ${f.ms.toFixed(1)} | ${pct(f.shareOfBusy)} |`);
  console.log("\n| self time by function | ms | share of busy |\n|---|--:|--:|");
  for (const f of summary.functions) console.log(`| ${f.name.replaceAll("|", "\\|")} | ${f.ms.toFixed(1)} | ${pct(f.shareOfBusy)} |`);
  console.log(`\nwrote ${out}`);
} finally {
  for (const fn of cleanups.reverse())
    await Promise.resolve()
      .then(fn)
      .catch(() => {});
  guard.done();
  rmSync(tmp, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
}
