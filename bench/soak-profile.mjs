/**
 * `node bench/soak-profile.mjs [--target wrangler|miniflare] [--clients 16] [--warm-s 6] [--measure-s 10] [--profile-s 5] [--interval 200] [--faults] [--storage tmpfs|disk]`
 *
 * Issue 17: what stalls the preset's Durable Object under the soak. The soak's steady load (N SDK
 * clients calling two upstreams' `echo` through one preset, plus the stall probe: a ping the
 * preset's DO answers alone) against the gateway served by `wrangler dev` (as `npm run soak`) or
 * by Miniflare directly (as `npm run bench`). Three windows after a warm-up:
 *
 *   measure   no inspector: calls/s, call and probe latency, CPU of every process (driver,
 *             upstreams, wrangler's node, proxy workerd, gateway workerd) and of the whole machine
 *             (/proc/stat: what is left is other load on the box, e.g. a test suite)
 *   attach    the inspector attaches (it stalls the isolate; not counted)
 *   profile   a V8 CPU profile of the gateway isolate: idle / (program) / GC shares, self time by
 *             function (source-mapped), and the longest contiguous runs of non-idle samples with
 *             what was on top of them
 *
 * Loopback only; everything it starts is stopped on the way out. Writes the profile to
 * bench/results/soak-profile-<target>.cpuprofile.json and prints a markdown summary.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { WebSocket } from "undici";
import { buildGateway, buildNaiveProxy, prepareSource, ROOT } from "./lib/build.mjs";
import { forkReady, startGuard, stopChild } from "./lib/children.mjs";
import { summarizeProfile } from "./lib/cpuprofile.mjs";
import { apiCaller, benchSecrets, LIFTED_RATE_LIMIT, startMiniflare } from "./lib/gateway.mjs";
import { cpuDelta, descendants, descendantsNamed, sampleCpu } from "./lib/procfs.mjs";
import { SOAK_TOOLS, startLoad } from "./lib/soak-clients.mjs";
import { quantile } from "./lib/stats.mjs";
import { startWranglerDev } from "./lib/wrangler-dev.mjs";

const { values: opts } = parseArgs({
  options: {
    target: { type: "string", default: "wrangler" },
    clients: { type: "string", default: "16" },
    "warm-s": { type: "string", default: "6" },
    "measure-s": { type: "string", default: "10" },
    "profile-s": { type: "string", default: "5" },
    interval: { type: "string", default: "200" },
    faults: { type: "boolean", default: false },
    // npm run soak keeps its state under os.tmpdir() (disk here); tmpfs leaves out fsync stalls.
    storage: { type: "string", default: "tmpfs" },
  },
});
const CLIENTS = Number(opts.clients);
const t0 = performance.now();
const now = () => performance.now() - t0;
const log = (/** @type {string} */ m) => console.error(`[soak-profile ${(now() / 1000).toFixed(0).padStart(3)}s] ${m}`);
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const tmp = mkdtempSync(join(tmpdir(), "mcpgate-soak-profile-"));
const guard = startGuard();
/** @type {(() => Promise<unknown> | unknown)[]} */
const cleanups = [];
const hardStop = setTimeout(() => {
  log("hard deadline: exiting");
  process.exit(1);
}, 240_000);
hardStop.unref();

try {
  await main();
} catch (e) {
  log(`failed: ${e instanceof Error ? e.stack : e}`);
  process.exitCode = 1;
} finally {
  for (const fn of cleanups.reverse())
    await Promise.resolve()
      .then(fn)
      .catch((e) => log(`cleanup: ${e}`));
  guard.done();
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(process.exitCode ?? 0);

/** Machine-wide busy and total jiffies from /proc/stat. */
function machineCpu() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busyMs: (total - idle) * 10, totalMs: total * 10 };
}

/**
 * Time the threads of each process group spent waiting for a CPU on a run queue
 * (/proc/<pid>/task/<tid>/schedstat, field 2, ns): runnable but not running.
 * @param {Record<string, number[]>} groups @returns {Record<string, number>} ms so far per group
 */
function runQueueWait(groups) {
  /** @type {Record<string, number>} */
  const out = {};
  for (const [name, pids] of Object.entries(groups)) {
    let ns = 0;
    for (const pid of pids) {
      let tids = [];
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {}
      for (const tid of tids) {
        try {
          ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1]);
        } catch {}
      }
    }
    out[name] = ns / 1e6;
  }
  return out;
}

/** Newest index.js.map under dir (wrangler dev's bundle). @param {string} dir */
function findMap(dir) {
  /** @type {{ path: string, mtime: number } | null} */
  let best = null;
  const walk = (/** @type {string} */ d) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === "index.js.map") {
        const m = statSync(p).mtimeMs;
        if (!best || m > best.mtime) best = { path: p, mtime: m };
      }
    }
  };
  walk(dir);
  return /** @type {{ path: string } | null} */ (best)?.path ?? null;
}

/** Chrome DevTools protocol over a WebSocket: send(method, params) → result. @param {string} url */
async function cdp(url) {
  const ws = new WebSocket(url, /** @type {any} */ ({ headers: { origin: "http://127.0.0.1" } }));
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
    /** @type {Promise<any>} */ (
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      })
    );
  return { send, close: () => ws.close() };
}

/**
 * The longest runs of consecutive non-idle samples (what a request arriving then would wait
 * behind), each with the functions that had the most self time in it and the deepest common
 * bundle frames. @param {any} profile @param {(id: number) => string} nameOf @param {(id: number) => string} stackOf
 */
function busyRuns(profile, nameOf, stackOf, n = 10) {
  const runs = [];
  /** @type {{ startUs: number, us: number, samples: number, self: Map<string, number>, stacks: Map<string, number> } | null} */
  let cur = null;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    const id = profile.samples[i];
    const name = nameOf(id);
    if (name === "(idle)") {
      if (cur) runs.push(cur);
      cur = null;
      continue;
    }
    // The interval up to the next sample is the time this sample stands for.
    const us = profile.timeDeltas[i + 1] ?? dt;
    cur ??= { startUs: t - profile.startTime, us: 0, samples: 0, self: new Map(), stacks: new Map() };
    cur.us += us;
    cur.samples++;
    cur.self.set(name, (cur.self.get(name) ?? 0) + us);
    const st = stackOf(id);
    cur.stacks.set(st, (cur.stacks.get(st) ?? 0) + us);
  }
  if (cur) runs.push(cur);
  const lengths = runs.map((r) => r.us / 1000).sort((a, b) => a - b);
  return {
    count: runs.length,
    p50Ms: quantile(lengths, 0.5),
    p99Ms: quantile(lengths, 0.99),
    over5ms: lengths.filter((x) => x > 5).length,
    over20ms: lengths.filter((x) => x > 20).length,
    top: runs
      .sort((a, b) => b.us - a.us)
      .slice(0, n)
      .map((r) => ({
        atMs: r.startUs / 1000,
        ms: r.us / 1000,
        samples: r.samples,
        topSelf: [...r.self]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 3)
          .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`),
        topStack: [...r.stacks].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "",
      })),
  };
}

async function main() {
  const src = prepareSource(undefined, join(tmp, "src"));
  const up = {
    faulty: await forkReady(join(ROOT, "bench/servers/faulty-upstream.mjs"), ["faulty"]),
    healthy: await forkReady(join(ROOT, "bench/servers/faulty-upstream.mjs"), ["healthy"]),
  };
  for (const u of Object.values(up)) cleanups.push(() => stopChild(u.child));
  const secrets = benchSecrets();
  const persistDir = mkdtempSync(join(opts.storage === "disk" ? tmpdir() : "/dev/shm", "mcpgate-soak-profile-state-"));
  cleanups.push(() => rmSync(persistDir, { recursive: true, force: true }));

  /** @type {string} */ let base;
  /** @type {() => Promise<string>} inspector WebSocket URL of the gateway isolate */ let inspectorWs;
  /** @type {() => string | null} */ let mapPath;
  /** @type {() => Record<string, number[]>} */ let groups;
  const upstreamPids = Object.values(up).map((u) => /** @type {number} */ (u.child.pid));
  if (opts.target === "wrangler") {
    const dir = join(tmp, "wrangler-dev");
    const dev = await startWranglerDev({ srcRoot: src.root, dir, persistDir, secrets, onStart: (pid) => guard.watch(-pid) });
    cleanups.push(() => dev.stop());
    base = dev.url;
    const roleOf = (/** @type {number} */ pid) => (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--inspector-addr") ? "gateway" : "proxy");
    const w = descendantsNamed(dev.pid, "workerd");
    const gw = w.filter((p) => roleOf(p) === "gateway");
    const px = w.filter((p) => roleOf(p) === "proxy");
    const rest = descendants(dev.pid).filter((p) => !w.includes(p));
    /** @type {Record<string, number[]>} the rest of wrangler's tree by command name (its node, esbuild, ...) */
    const restByComm = {};
    for (const pid of [dev.pid, ...rest]) {
      const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      const key = `wrangler:${comm}`;
      restByComm[key] = [...(restByComm[key] ?? []), pid];
    }
    groups = () => ({
      driver: [process.pid],
      upstreams: upstreamPids,
      ...restByComm,
      proxyWorkerd: px,
      gatewayWorkerd: gw,
    });
    inspectorWs = async () => {
      const targets = await (await fetch(`http://127.0.0.1:${dev.inspectorPort}/json`)).json();
      return targets.find((/** @type {any} */ t) => t.webSocketDebuggerUrl).webSocketDebuggerUrl;
    };
    mapPath = () => findMap(dir);
    log(`wrangler dev ${base}; gateway workerd ${gw}, proxy workerd ${px}, wrangler node ${dev.pid} (+${rest})`);
  } else {
    const bundle = await buildGateway(src.root, join(tmp, "dist"));
    const naivePath = await buildNaiveProxy(join(tmp, "naive", "naive-proxy.mjs"));
    const { mf, urls } = await startMiniflare({
      srcRoot: src.root,
      scriptPath: bundle.scriptPath,
      naivePath,
      upstreamBase: up.healthy.ready.url,
      persistDir,
      secrets,
      inspectorPort: 0,
    });
    cleanups.push(() => mf.dispose());
    const w = descendantsNamed(process.pid, "workerd");
    for (const pid of w) guard.watch(pid);
    base = urls.gateway;
    groups = () => ({ driver: [process.pid], upstreams: upstreamPids, gatewayWorkerd: w });
    inspectorWs = async () => new URL("/core:user:gateway", await mf.getInspectorURL()).href;
    mapPath = () => `${bundle.scriptPath}.map`;
    log(`miniflare ${base}; workerd ${w}`);
  }

  const api = apiCaller(base);
  const { token } = await api("POST", "/users", secrets.ADMIN_TOKEN, { handle: "soak" });
  await api("POST", "/servers", token, { name: "faulty", url: up.faulty.ready.url, timeoutMs: 300 });
  await api("POST", "/servers", token, { name: "healthy", url: up.healthy.ready.url });
  await api("POST", "/presets", token, { slug: "soak", name: "soak", visibility: "public", rateLimit: LIFTED_RATE_LIMIT });
  for (const server of ["faulty", "healthy"]) await api("PUT", `/presets/soak/servers/${server}`, token, { tools: null, sessionScope: "shared" });
  if (opts.faults)
    await fetch(`${up.faulty.ready.control}/faults`, {
      method: "POST",
      body: JSON.stringify({ errorRate: 0.05, hangRate: 0.02, hangMs: 2_000, methods: ["tools/call"] }),
    });

  /** @type {import('./lib/soak-clients.mjs').CallRecord[]} */
  const calls = [];
  /** @type {import('./lib/soak-clients.mjs').ProbeRecord[]} */
  const probes = [];
  const load = startLoad({
    url: `${base}/mcp/soak/soak`,
    clients: CLIENTS,
    tools: SOAK_TOOLS,
    now,
    onCall: (r) => calls.push(r),
    onProbe: (r) => probes.push(r),
    log,
  });
  cleanups.push(() => load.stop());
  log(`load: ${CLIENTS} clients${opts.faults ? ", 7 % faults on faulty" : ""}; warming ${opts["warm-s"]} s`);
  await sleep(Number(opts["warm-s"]) * 1000);

  const window = (/** @type {number} */ a, /** @type {number} */ b) => {
    const cs = calls.filter((c) => c.start >= a && c.end <= b);
    const ok = cs
      .filter((c) => c.kind === "ok")
      .map((c) => c.end - c.start)
      .sort((x, y) => x - y);
    const pr = probes
      .filter((p) => p.start >= a && p.end <= b && p.ok)
      .map((p) => p.end - p.start)
      .sort((x, y) => x - y);
    return {
      seconds: (b - a) / 1000,
      calls: cs.length,
      callsPerS: cs.length / ((b - a) / 1000),
      ok: ok.length,
      callP50: quantile(ok, 0.5),
      callP99: quantile(ok, 0.99),
      probes: pr.length,
      probeP50: quantile(pr, 0.5),
      probeP99: quantile(pr, 0.99),
      probeMax: pr.at(-1) ?? 0,
    };
  };

  // 1. measure: no inspector.
  const g = groups();
  const c0 = sampleCpu(g);
  const w0 = runQueueWait(g);
  const m0 = machineCpu();
  const load0 = readFileSync("/proc/loadavg", "utf8").trim();
  const a = now();
  await sleep(Number(opts["measure-s"]) * 1000);
  const b = now();
  const c1 = sampleCpu(g);
  const w1 = runQueueWait(g);
  const m1 = machineCpu();
  const load1 = readFileSync("/proc/loadavg", "utf8").trim();
  const waits = cpuDelta(w0, w1);
  const perProc = cpuDelta(c0, c1);
  const wallMs = b - a;
  const ours = Object.values(perProc).reduce((x, y) => x + y, 0);
  const machineBusy = m1.busyMs - m0.busyMs;
  const machineTotal = m1.totalMs - m0.totalMs;
  const measure = window(a, b);

  // 2. attach, settle, 3. profile.
  const insp = await cdp(await inspectorWs());
  await insp.send("Profiler.enable");
  await insp.send("Profiler.setSamplingInterval", { interval: Number(opts.interval) });
  await sleep(2_000);
  const pa = now();
  await insp.send("Profiler.start");
  await sleep(Number(opts["profile-s"]) * 1000);
  const { profile } = await insp.send("Profiler.stop");
  const pb = now();
  insp.close();
  const during = window(pa, pb);

  const map = mapPath();
  const isBundle = (/** @type {string} */ url) => url.endsWith("index.js");
  const summary = summarizeProfile(profile, map, isBundle);
  writeFileSync(join(ROOT, `bench/results/soak-profile-${opts.target}.cpuprofile.json`), JSON.stringify(profile));

  // Names for the run analysis (source-mapped like the summary).
  const { SourceMap } = await import("node:module");
  const sm = map ? new SourceMap(JSON.parse(readFileSync(map, "utf8"))) : null;
  /** @type {Map<number, any>} */
  const byId = new Map(profile.nodes.map((/** @type {any} */ n) => [n.id, n]));
  /** @type {Map<number, number>} */
  const parentOf = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const nameOf = (/** @type {number} */ id) => {
    const cf = byId.get(id).callFrame;
    if (cf.url && isBundle(cf.url) && sm) {
      const e = /** @type {any} */ (sm.findEntry(cf.lineNumber, cf.columnNumber));
      const srcPath = String(e?.originalSource ?? "?")
        .replace(/^.*node_modules\//, "")
        .replace(/^.*?(src\/)/, "$1");
      return `${cf.functionName || "(anon)"} ${srcPath}:${(e?.originalLine ?? 0) + 1}`;
    }
    return cf.functionName || "(anon)";
  };
  const stackOf = (/** @type {number} */ id) => {
    const names = [];
    for (let at = /** @type {number | undefined} */ (id); at !== undefined && names.length < 6; at = parentOf.get(at)) {
      const n = nameOf(at);
      if (n !== "(root)") names.push(n);
    }
    return names.join(" < ");
  };
  const runs = busyRuns(profile, nameOf, stackOf);
  // Sampling gaps: the sampler asks for a sample every `interval` µs; a delta far past it means
  // the isolate's thread (and its sampler) got no CPU: the OS ran something else. The time then
  // lands as "self time" on whatever was on the stack, which makes it look like a long task.
  const deltas = profile.timeDeltas.slice(1).map((/** @type {number} */ d) => d / 1000);
  const gapSum = (/** @type {number} */ over) => deltas.filter((/** @type {number} */ d) => d > over).reduce((x, y) => x + y, 0);
  const gaps = {
    samples: profile.samples.length,
    expected: Math.round((summary.wallMs * 1000) / Number(opts.interval)),
    over2ms: deltas.filter((/** @type {number} */ d) => d > 2).length,
    over10ms: deltas.filter((/** @type {number} */ d) => d > 10).length,
    over50ms: deltas.filter((/** @type {number} */ d) => d > 50).length,
    msInGapsOver2: gapSum(2),
    msInGapsOver10: gapSum(10),
    longest: [...deltas]
      .sort((x, y) => y - x)
      .slice(0, 10)
      .map((/** @type {number} */ d) => d.toFixed(1)),
  };
  // Busy time the sampler saw in ordinary steps (deltas under 2 ms): the isolate's own work.
  let busyDense = 0;
  /** @type {Map<string, number>} self time by function over ordinary steps only (gaps left out) */
  const denseSelf = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const d = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const name = nameOf(profile.samples[i]);
    if (d <= 2 && name !== "(idle)") {
      busyDense += d;
      denseSelf.set(name, (denseSelf.get(name) ?? 0) + d);
    }
  }

  const f1 = (/** @type {number} */ x) => x.toFixed(1);
  const pct = (/** @type {number} */ x) => `${(x * 100).toFixed(1)}%`;
  const areaMs = (/** @type {string} */ k) => summary.areas.find((x) => x.name === k)?.ms ?? 0;
  const out = [];
  out.push(
    `## Soak profile: ${opts.target}, ${CLIENTS} clients${opts.faults ? ", 7 % faults" : ", no faults"}, state on ${opts.storage} (${new Date().toISOString()})\n`,
  );
  out.push(`### Measure window (${f1(measure.seconds)} s, no inspector)\n`);
  out.push(
    `${measure.calls} calls = ${f1(measure.callsPerS)} calls/s; ok call p50 ${f1(measure.callP50)} ms, p99 ${f1(measure.callP99)} ms; ` +
      `stall probe (${measure.probes}) p50 ${f1(measure.probeP50)} ms, p99 ${f1(measure.probeP99)} ms, max ${f1(measure.probeMax)} ms\n`,
  );
  out.push(`loadavg before: ${load0}; after: ${load1}\n`);
  out.push("| process | CPU ms | cores | waiting for a CPU (run queue) ms | wait per CPU ms |\n|---|--:|--:|--:|--:|");
  for (const [k, v] of Object.entries(perProc))
    out.push(`| ${k} | ${v.toFixed(0)} | ${(v / wallMs).toFixed(2)} | ${waits[k].toFixed(0)} | ${(waits[k] / Math.max(1, v)).toFixed(2)} |`);
  out.push(`| **ours, summed** | ${ours.toFixed(0)} | ${(ours / wallMs).toFixed(2)} |`);
  out.push(`| whole machine busy (/proc/stat) | ${machineBusy.toFixed(0)} | ${((machineBusy / machineTotal) * 2).toFixed(2)} of 2 |`);
  out.push(`| other load on the machine (machine − ours) | ${(machineBusy - ours).toFixed(0)} | ${((machineBusy - ours) / wallMs).toFixed(2)} |`);
  out.push(
    `\ngateway workerd CPU per call: ${((perProc.gatewayWorkerd ?? 0) / Math.max(1, measure.calls)).toFixed(2)} ms` +
      (perProc.proxyWorkerd !== undefined ? `; proxy workerd per call ${(perProc.proxyWorkerd / Math.max(1, measure.calls)).toFixed(2)} ms` : "") +
      `; driver per call ${(perProc.driver / Math.max(1, measure.calls)).toFixed(2)} ms\n`,
  );
  out.push(`### Profile window (${opts["profile-s"]} s, inspector attached, sampling every ${opts.interval} µs)\n`);
  out.push(
    `${during.calls} calls = ${f1(during.callsPerS)} calls/s; stall probe p99 ${f1(during.probeP99)} ms, max ${f1(during.probeMax)} ms. ` +
      `Sampled ${f1(summary.wallMs)} ms: idle ${f1(summary.idleMs)} ms (${pct(summary.idleMs / summary.wallMs)}), busy ${f1(summary.busyMs)} ms ` +
      `(${pct(summary.busyMs / summary.wallMs)}); (program) ${f1(areaMs("(program)"))} ms, (garbage collector) ${f1(areaMs("(garbage collector)"))} ms ` +
      `(${pct(areaMs("(garbage collector)") / summary.wallMs)} of wall). Busy per call ${(summary.busyMs / Math.max(1, during.calls)).toFixed(2)} ms.\n`,
  );
  out.push(
    `Sampling: ${gaps.samples} samples (${gaps.expected} expected at the interval); gaps between samples over 2 ms: ${gaps.over2ms} ` +
      `(${f1(gaps.msInGapsOver2)} ms of ${f1(summary.wallMs)}), over 10 ms: ${gaps.over10ms} (${f1(gaps.msInGapsOver10)} ms), over 50 ms: ${gaps.over50ms}; ` +
      `longest gaps ms: ${gaps.longest.join(", ")}. Busy time in ordinary sample steps (≤ 2 ms): ${f1(busyDense)} ms.\n`,
  );
  out.push(
    `Busy runs (consecutive non-idle samples): ${runs.count}, p50 ${runs.p50Ms.toFixed(2)} ms, p99 ${runs.p99Ms.toFixed(2)} ms, ${runs.over5ms} over 5 ms, ${runs.over20ms} over 20 ms.\n`,
  );
  out.push("| # | at ms | run ms | samples | top self (ms) | heaviest stack (top < callers) |\n|--:|--:|--:|--:|---|---|");
  for (const [i, r] of runs.top.entries())
    out.push(
      `| ${i + 1} | ${r.atMs.toFixed(0)} | ${r.ms.toFixed(2)} | ${r.samples} | ${r.topSelf.join("; ")} | ${r.topStack.replaceAll("|", "\\|").slice(0, 300)} |`,
    );
  out.push("\n| self time by function, ordinary sample steps only (≤ 2 ms; gaps left out) | ms | share |\n|---|--:|--:|");
  for (const [k, v] of [...denseSelf].sort((x, y) => y[1] - x[1]).slice(0, 15)) out.push(`| ${k.replaceAll("|", "\\|")} | ${f1(v)} | ${pct(v / busyDense)} |`);
  out.push("\n| self time by area (gaps included) | ms | share of busy |\n|---|--:|--:|");
  for (const x of summary.areas.slice(0, 15)) out.push(`| ${x.name} | ${f1(x.ms)} | ${pct(x.shareOfBusy)} |`);
  out.push("\n| self time by function (gaps included) | ms | share of busy |\n|---|--:|--:|");
  for (const x of summary.functions.slice(0, 20)) out.push(`| ${x.name.replaceAll("|", "\\|")} | ${f1(x.ms)} | ${pct(x.shareOfBusy)} |`);
  out.push("\n| total time of our functions | ms | share of busy |\n|---|--:|--:|");
  for (const x of summary.ourInclusive.slice(0, 12)) out.push(`| ${x.name.replaceAll("|", "\\|")} | ${f1(x.ms)} | ${pct(x.shareOfBusy)} |`);
  out.push(`\nsource map: ${map ? "yes" : "not found"}; load: ${JSON.stringify(load.stats())}`);
  console.log(out.join("\n"));
}
