/**
 * `npm run soak [-- --quick] [--clients N] [--runs N] [--deadline-s N] [--out file] [--scope shared|per-caller|per-session] [--heap-per-phase] [--fault-methods tools/call,...|all]`
 *
 * A bounded, loopback-only soak of the gateway as `npm run dev` serves it (`wrangler dev`, built
 * from this checkout, scratch persist dir, secrets via --var), through one preset over two
 * upstreams: `healthy` and `faulty` (bench/servers/faulty-upstream.mjs). N concurrent SDK clients
 * call both upstreams' `echo` with unique arguments (bench/lib/soak-clients.mjs) through phases:
 *
 *   warm       no faults
 *   faults-k   7 % independent faults on the faulty upstream: 5 % HTTP 500, 2 % hangs past its
 *              timeoutMs (repeated --runs times; breaker openings are counted per run)
 *   restart    the faulty upstream forgets every session midway (old ids get 404)
 *   down       the faulty upstream is hard down (connection refused)
 *   recovery   it is back; the phase lasts until its calls succeed again
 *   crash      the wrangler dev process tree is SIGKILLed mid-load and started again on the same
 *              persist dir and port; clients reconnect
 *   cool-down  no faults; then the preset's stats are compared with what the clients saw
 *
 * Writes bench/results/soak-latest.md and the JSON (--out, default bench/results/soak-latest.json).
 * Exits 0 when the run completed (a missed check is a finding), 1 if the harness failed or ran
 * past its deadline. Everything it starts is stopped on the way out (bench/lib/children.mjs).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { WebSocket } from "undici";
import { prepareSource, ROOT } from "./lib/build.mjs";
import { forkReady, startGuard, stopChild } from "./lib/children.mjs";
import { apiCaller, benchSecrets, LIFTED_RATE_LIMIT } from "./lib/gateway.mjs";
import { descendantsNamed, rssBytes } from "./lib/procfs.mjs";
import { SOAK_TOOLS, startLoad } from "./lib/soak-clients.mjs";
import {
  beforeOpening,
  compareStats,
  failFastMs,
  failureBursts,
  gatewayOutcome,
  recoveryMs,
  renderSoakMarkdown,
  SLOW_MS,
  summarizePhase,
} from "./lib/soak-report.mjs";
import { startWranglerDev } from "./lib/wrangler-dev.mjs";

const { values: opts } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    clients: { type: "string", default: "16" },
    runs: { type: "string" },
    "deadline-s": { type: "string" },
    scope: { type: "string", default: "shared" },
    "heap-per-phase": { type: "boolean", default: false },
    "fault-methods": { type: "string", default: "tools/call" },
    out: { type: "string", default: join(ROOT, "bench/results/soak-latest.json") },
  },
});
const modeName = opts.quick ? "quick" : "full";
/** Phase lengths in ms. The recovery and crash phases run until calls succeed again (bounded). */
const MODES = {
  full: {
    warm: 10_000,
    faults: 40_000,
    restart: 10_000,
    down: 20_000,
    recoveryMax: 45_000,
    crashBefore: 6_000,
    crashAfter: 8_000,
    cool: 5_000,
    runs: 1,
    deadlineMs: 600_000,
  },
  quick: {
    warm: 4_000,
    faults: 12_000,
    restart: 4_000,
    down: 6_000,
    recoveryMax: 40_000,
    crashBefore: 3_000,
    crashAfter: 3_000,
    cool: 2_000,
    runs: 1,
    deadlineMs: 180_000,
  },
};
const mode = { ...MODES[modeName] };
if (opts.runs) mode.runs = Math.max(1, Number(opts.runs));
if (opts["deadline-s"]) mode.deadlineMs = Number(opts["deadline-s"]) * 1000;
else mode.deadlineMs += (mode.runs - 1) * (mode.faults + 35_000);
const CLIENTS = Math.max(1, Number(opts.clients));
/** The faulty upstream's timeoutMs, and how long its hangs last (well past it). */
const FAULTY_TIMEOUT_MS = 300;
const HANG_MS = 2_000;
/** Which JSON-RPC methods the faults hit (--fault-methods, comma-separated): tools/call by default; `all` for every POST. */
const FAULT_METHODS =
  opts["fault-methods"] === "all"
    ? ["initialize", "notifications/initialized", "tools/call", "tools/list", "ping", "notifications/cancelled"]
    : String(opts["fault-methods"]).split(",");
const FAULTS = { errorRate: 0.05, hangRate: 0.02, hangMs: HANG_MS, methods: FAULT_METHODS };
const SLUG = "soak";
/** A half-open breaker is probed after this long (src/policy/breaker.ts DEFAULT_BREAKER.cooldownMs), plus slack. */
const BREAKER_SETTLE_MAX_MS = 35_000;

const startedAt = Date.now();
const t0 = performance.now();
const now = () => performance.now() - t0;
const log = (/** @type {string} */ m) => console.error(`[soak ${(now() / 1000).toFixed(0).padStart(3)}s] ${m}`);
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const tmp = mkdtempSync(join(tmpdir(), "mcpgate-soak-"));
const guard = startGuard();
/** @type {(() => Promise<unknown> | unknown)[]} */
const cleanups = [];
let cleaning;
const cleanup = () =>
  (cleaning ??= (async () => {
    for (const fn of cleanups.reverse())
      await Promise.resolve()
        .then(fn)
        .catch((e) => log(`cleanup: ${e}`));
    guard.done();
    rmSync(tmp, { recursive: true, force: true });
  })());
const deadline = setTimeout(() => {
  log(`deadline of ${mode.deadlineMs / 1000}s reached: stopping`);
  void cleanup().finally(() => process.exit(1));
}, mode.deadlineMs);
deadline.unref();
for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM"])) process.once(signal, () => void cleanup().finally(() => process.exit(130)));

try {
  await main();
  await cleanup();
  clearTimeout(deadline);
  process.exit(0);
} catch (e) {
  log(`harness failed: ${e instanceof Error ? e.stack : e}`);
  await cleanup();
  process.exit(1);
}

async function main() {
  log(`${modeName} soak: ${CLIENTS} clients, ${mode.runs} fault run(s), deadline ${mode.deadlineMs / 1000} s`);
  const src = prepareSource(undefined, join(tmp, "src"));
  const up = {
    faulty: await forkReady(join(ROOT, "bench/servers/faulty-upstream.mjs"), ["faulty"]),
    healthy: await forkReady(join(ROOT, "bench/servers/faulty-upstream.mjs"), ["healthy"]),
  };
  for (const u of Object.values(up)) cleanups.push(() => stopChild(u.child));
  const control = async (/** @type {'faulty' | 'healthy'} */ name, /** @type {string} */ path, /** @type {unknown} */ body = undefined) => {
    const res = await fetch(
      `${up[name].ready.control}${path}`,
      body === undefined && path === "/stats" ? {} : { method: "POST", body: JSON.stringify(body ?? {}) },
    );
    return res.json();
  };

  const secrets = benchSecrets();
  const persistDir = mkdtempSync(join(tmpdir(), "mcpgate-soak-state-"));
  cleanups.push(() => rmSync(persistDir, { recursive: true, force: true }));
  const devOptions = { srcRoot: src.root, dir: join(tmp, "wrangler-dev"), persistDir, secrets, onStart: (/** @type {number} */ pid) => guard.watch(-pid) };
  let dev = await startWranglerDev(devOptions);
  cleanups.push(() => dev.stop());
  const workerdPids = () => descendantsNamed(dev.pid, "workerd");
  log(
    `up: gateway ${dev.url} (wrangler dev pid ${dev.pid}, workerd ${workerdPids().join(",")}), faulty ${up.faulty.ready.url}, healthy ${up.healthy.ready.url}`,
  );

  // Seed through the REST API, as a user would.
  const api = apiCaller(dev.url);
  const { token } = await api("POST", "/users", secrets.ADMIN_TOKEN, { handle: "soak" });
  await api("POST", "/servers", token, { name: "faulty", url: up.faulty.ready.url, timeoutMs: FAULTY_TIMEOUT_MS });
  await api("POST", "/servers", token, { name: "healthy", url: up.healthy.ready.url });
  await api("POST", "/presets", token, { slug: SLUG, name: "soak", visibility: "public", rateLimit: LIFTED_RATE_LIMIT });
  for (const server of ["faulty", "healthy"]) await api("PUT", `/presets/${SLUG}/servers/${server}`, token, { tools: null, sessionScope: opts.scope });
  const presetUrl = `${dev.url}/mcp/soak/${SLUG}`;
  const seededSessions = { faulty: await control("faulty", "/stats"), healthy: await control("healthy", "/stats") };
  await control("faulty", "/reset");
  await control("healthy", "/reset");

  // Watchers: workerd RSS every second, the isolate heap if the inspector answers, the driver's own event-loop delay.
  // wrangler dev runs two workerd: its proxy worker (the entry socket) and the user worker (the
  // gateway, with the inspector). Summed, and each on its own.
  const roleOf = (/** @type {number} */ pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--inspector-addr") ? "gateway" : "proxy";
    } catch {
      return "gone";
    }
  };
  /** @type {{ atMs: number, bytes: number, byRole: Record<string, number> }[]} */
  const rssSeries = [];
  const sampleRss = () => {
    /** @type {Record<string, number>} */
    const byRole = {};
    for (const pid of workerdPids()) {
      const role = roleOf(pid);
      byRole[role] = (byRole[role] ?? 0) + (rssBytes(pid) ?? 0);
    }
    const bytes = Object.values(byRole).reduce((a, b) => a + b, 0);
    if (bytes) rssSeries.push({ atMs: now(), bytes, byRole });
  };
  const rssTimer = setInterval(sampleRss, 1_000);
  cleanups.push(() => clearInterval(rssTimer));
  sampleRss();
  /** @type {{ atMs: number, usedBytes: number }[]} */
  const heapSeries = [];
  const sampleHeap = async () => {
    const used = await isolateHeap(dev.inspectorPort).catch(() => null);
    if (used !== null) heapSeries.push({ atMs: now(), usedBytes: used });
  };
  await sampleHeap();
  if (!heapSeries.length) log("isolate heap: inspector not reachable, heap not reported");
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  /** @type {import('./lib/soak-clients.mjs').CallRecord[]} */
  const calls = [];
  /** @type {import('./lib/soak-clients.mjs').ProbeRecord[]} */
  const probes = [];
  const load = startLoad({
    url: presetUrl,
    clients: CLIENTS,
    tools: SOAK_TOOLS,
    now,
    onCall: (r) => calls.push(r),
    onProbe: (r) => probes.push(r),
    log,
  });
  cleanups.push(() => load.stop());

  /** Breaker events of the preset since the soak started, oldest first, times in soak ms. */
  const breakerEvents = async () => {
    try {
      const { events } = await api(
        "GET",
        `/presets/${SLUG}/events?type=breaker.*&limit=200&since=${encodeURIComponent(new Date(startedAt).toISOString())}`,
        token,
      );
      return /** @type {{ type: string, target: string, createdAt: string, payload: any }[]} */ (events)
        .map((e) => ({
          type: e.type,
          target: e.target,
          atMs: Date.parse(e.createdAt) - (performance.timeOrigin + t0),
          lastError: e.payload?.lastError ?? null,
        }))
        .sort((a, b) => a.atMs - b.atMs);
    } catch (e) {
      log(`events: ${e}`);
      return [];
    }
  };

  /** @type {{ name: string, start: number, end: number, sessions?: any, sessionsDelta?: any, events?: Record<string, number> }[]} */
  const phases = [];
  /** @param {string} name @param {(p: { start: number, events: Record<string, number> }) => Promise<void>} body */
  const phase = async (name, body) => {
    const before = await control("faulty", "/stats");
    loopDelay.reset();
    const p = { name, start: now(), events: /** @type {Record<string, number>} */ ({}) };
    log(`phase ${name}`);
    await body(p);
    const end = now();
    const after = await control("faulty", "/stats");
    const delta = Object.fromEntries(
      ["opened", "endedByDelete", "droppedByRestart", "injected500", "injectedHang", "notFound"].map((k) => [k, after[k] - before[k]]),
    );
    // Attaching the inspector stalls the isolate for seconds under load: per phase only when asked.
    if (opts["heap-per-phase"]) await sampleHeap();
    phases.push({
      ...p,
      end,
      sessions: { faulty: { ...delta, open: after.open, live: after.live, idle: after.idle, idleByLastFault: after.idleByLastFault } },
      driverLoopDelayMs: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    });
  };
  const okSince = (/** @type {string} */ u, /** @type {number} */ at) => calls.some((c) => c.upstream === u && c.kind === "ok" && c.start >= at);

  await phase("warm", () => sleep(mode.warm));
  /** @type {{ name: string, start: number, end: number }[]} */
  const faultRunWindows = [];
  for (let k = 1; k <= mode.runs; k++) {
    const name = mode.runs > 1 ? `faults-${k}` : "faults";
    await phase(name, async (p) => {
      await control("faulty", "/faults", FAULTS);
      await sleep(mode.faults);
      await control("faulty", "/faults", { errorRate: 0, hangRate: 0 });
      faultRunWindows.push({ name, start: p.start, end: now() });
    });
    // A breaker the run opened is left to close (its cooldown, then a probe) before the next phase.
    const ev = await breakerEvents();
    const lastOpen = ev.filter((e) => e.type === "breaker.opened" && e.target === "faulty").at(-1);
    if (lastOpen && lastOpen.atMs >= faultRunWindows.at(-1).start && !ev.some((e) => e.type === "breaker.closed" && e.atMs > lastOpen.atMs)) {
      await phase(`settle-${k}`, async () => {
        const until = now() + BREAKER_SETTLE_MAX_MS;
        while (now() < until) {
          await sleep(1_000);
          const e2 = await breakerEvents();
          if (e2.some((e) => e.type === "breaker.closed" && e.atMs > lastOpen.atMs)) break;
        }
      });
    }
  }
  await phase("restart", async (p) => {
    await sleep(mode.restart / 2);
    p.events.drop = now();
    await control("faulty", "/drop");
    await sleep(mode.restart / 2);
  });
  let downAt = 0;
  await phase("down", async (p) => {
    downAt = p.events.down = now();
    await control("faulty", "/down");
    await sleep(mode.down);
  });
  let upAt = 0;
  await phase("recovery", async (p) => {
    upAt = p.events.up = now();
    await control("faulty", "/up");
    const until = now() + mode.recoveryMax;
    while (now() < until && !okSince("faulty", upAt)) await sleep(200);
    await sleep(3_000);
  });
  let killAt = 0;
  let restartMs = null;
  await phase("crash", async (p) => {
    await sleep(mode.crashBefore);
    killAt = p.events.kill = now();
    const old = dev;
    await old.kill();
    guard.unwatch(-old.pid);
    log("gateway killed (SIGKILL to the wrangler dev process group); starting it again on the same state");
    dev = await startWranglerDev({ ...devOptions, port: old.port, inspectorPort: old.inspectorPort, migrate: false });
    restartMs = now() - killAt;
    p.events.restarted = now();
    log(`gateway back after ${(restartMs / 1000).toFixed(1)} s (pid ${dev.pid})`);
    const until = now() + 30_000;
    while (now() < until && !(okSince("faulty", killAt + restartMs) && okSince("healthy", killAt + restartMs))) await sleep(200);
    await sleep(mode.crashAfter);
  });
  await phase("cool-down", () => sleep(mode.cool));
  // Sessions while the load still runs, so "live" means what the gateway uses, not what it used.
  const sessionsEnd = await control("faulty", "/stats");
  const sessionsEndHealthy = await control("healthy", "/stats");
  await load.stop();
  loopDelay.disable();
  sampleRss();
  await sleep(1_500); // the clients' DELETEs land; the last answers are counted
  await sampleHeap();
  // The first request after the restart may land on a pooled connection to the killed process: retry.
  let stats = null;
  for (let attempt = 0; attempt < 3 && !stats; attempt++) {
    stats = await api("GET", `/presets/${SLUG}/stats?window=1h`, token).catch(async (e) => {
      log(`stats: ${e}${attempt < 2 ? ", retrying" : ""}`);
      await sleep(1_000);
      return null;
    });
  }
  const events = await breakerEvents();
  // The management API's one-shot sessions (GET /servers/:name/health connects, pings, closes): do they end theirs?
  const beforeHealth = await control("healthy", "/stats");
  for (let i = 0; i < 3; i++) await api("GET", "/servers/healthy/health", token).catch((e) => log(`health: ${e}`));
  const afterHealth = await control("healthy", "/stats");
  const healthChecks = {
    checks: 3,
    opened: afterHealth.opened - beforeHealth.opened,
    endedByDelete: afterHealth.endedByDelete - beforeHealth.endedByDelete,
    leftOpen: afterHealth.open - beforeHealth.open,
  };

  // Summaries.
  const summaries = phases.map((p) => {
    const s = summarizePhase(p, calls, probes);
    const rssIn = rssSeries.filter((r) => r.atMs >= p.start && r.atMs < p.end);
    return {
      ...s,
      events: p.events,
      breaker: events
        .filter((e) => e.atMs >= p.start && e.atMs < p.end && e.target === "faulty")
        .map((e) => ({ type: e.type, atMs: Math.round(e.atMs), lastError: e.lastError })),
      breakerHealthy: events.filter((e) => e.atMs >= p.start && e.atMs < p.end && e.target === "healthy").length,
      sessions: p.sessions,
      rss: { workerdBytes: rssIn.at(-1)?.bytes ?? null, maxBytes: rssIn.length ? Math.max(...rssIn.map((r) => r.bytes)) : null },
      heapUsedBytes: heapSeries.filter((h) => h.atMs <= p.end + 2_000).at(-1)?.usedBytes ?? null,
      driverLoopDelayMs: p.driverLoopDelayMs,
    };
  });
  const faultRuns = faultRunWindows.map((w) => {
    const opens = events.filter((e) => e.type === "breaker.opened" && e.target === "faulty" && e.atMs >= w.start && e.atMs < w.end);
    return {
      name: w.name,
      openings: opens.length,
      bursts: failureBursts(calls, "faulty", w.start, w.end),
      beforeOpenings: opens.map((e) => beforeOpening(calls, probes, "faulty", e.atMs)),
    };
  });
  const crashOk = calls.filter((c) => c.kind === "ok" && c.start >= killAt).sort((a, b) => a.end - b.end)[0];
  const timings = {
    failFastMs: failFastMs(calls, "faulty", downAt),
    recoveryMs: recoveryMs(calls, "faulty", upAt),
    killAtMs: killAt,
    restartMs,
    crashRecoveryMs: crashOk ? crashOk.end - killAt : null,
  };
  const statsVsClients = compareStats(calls, stats);
  // Crash accounting: acknowledged calls just before the kill (the object flushes usage about once a second).
  const ackedBefore = (/** @type {number} */ ms) => calls.filter((c) => gatewayOutcome(c) !== null && c.end < killAt && c.end >= killAt - ms).length;
  statsVsClients.ackedBeforeKill = { last1s: ackedBefore(1_000), last2s: ackedBefore(2_000), last5s: ackedBefore(5_000) };
  // Sessions the faulty upstream still holds that nobody sends on: orphaned by the crash (in use
  // when the gateway was killed, so it could not end them) or left open by the gateway.
  const epochOf = (/** @type {number} */ ms) => performance.timeOrigin + t0 + ms;
  // Whatever the killed process held it could not end: idle sessions opened before the kill are the
  // crash's, except those already idle before it (the last phase before the crash, load running).
  // (At the end of the restart phase: the last one before the crash in which the breaker is closed
  // and calls flow; while it is open, the one live session idles too.)
  const beforeCrash = phases.find((p) => p.name === "restart")?.sessions?.faulty;
  sessionsEnd.leftOpenBeforeCrash = beforeCrash?.idle ?? 0;
  sessionsEnd.idleOpenedBeforeKill = sessionsEnd.idleSessions.filter((/** @type {{ openedAt: number }} */ s) => s.openedAt < epochOf(killAt)).length;
  sessionsEnd.orphanedByCrash = Math.max(0, sessionsEnd.idleOpenedBeforeKill - sessionsEnd.leftOpenBeforeCrash);
  sessionsEnd.leftOpenAfterRestart = sessionsEnd.idle - sessionsEnd.idleOpenedBeforeKill;
  sessionsEnd.leftOpen = sessionsEnd.leftOpenBeforeCrash + sessionsEnd.leftOpenAfterRestart;
  const rss = {
    firstBytes: rssSeries[0]?.bytes ?? null,
    maxBytes: rssSeries.length ? Math.max(...rssSeries.map((r) => r.bytes)) : null,
    lastBytes: rssSeries.at(-1)?.bytes ?? null,
    beforeCrashBytes: rssSeries.filter((r) => r.atMs < killAt).at(-1)?.bytes ?? null,
    firstByRole: rssSeries[0]?.byRole ?? null,
    beforeCrashByRole: rssSeries.filter((r) => r.atMs < killAt).at(-1)?.byRole ?? null,
    series: rssSeries.map((r) => [Math.round(r.atMs), r.byRole.gateway ?? 0, r.byRole.proxy ?? 0]),
  };
  const heap = {
    first: heapSeries[0]?.usedBytes ?? null,
    last: heapSeries.at(-1)?.usedBytes ?? null,
    series: heapSeries.map((h) => [Math.round(h.atMs), h.usedBytes]),
  };
  const all = summarizePhase({ name: "all", start: 0, end: Number.POSITIVE_INFINITY }, calls, probes);
  const healthyOk = summaries.filter((p) => p.name !== "crash").every((p) => !p.upstreams.healthy || p.upstreams.healthy.okRate === 1);
  const nonCrash = calls.filter((c) => c.end < killAt || c.start > killAt + (restartMs ?? 0) + 2_000);
  const checks = [
    {
      id: "breaker-7pct",
      text: `0 breaker openings under ${Math.round((FAULTS.errorRate + FAULTS.hangRate) * 100)} % independent faults (${faultRuns.length} run(s))`,
      value: faultRuns.map((r) => r.openings).join(", "),
      pass: faultRuns.every((r) => r.openings === 0),
    },
    {
      id: "sessions",
      text: "upstream sessions left open ≤ live upstream sessions (faulty, at the end; the crash's orphans aside)",
      value: `${sessionsEnd.open} open: ${sessionsEnd.live} live, ${sessionsEnd.orphanedByCrash} orphaned by the crash, ${sessionsEnd.leftOpen} left open (${sessionsEnd.leftOpenBeforeCrash} before the crash, ${sessionsEnd.leftOpenAfterRestart} after the restart)`,
      pass: sessionsEnd.leftOpen <= sessionsEnd.live,
    },
    {
      id: "stats",
      // A call counted durably whose reply was then lost in the kill is in the stats but not acknowledged: extra counts
      // up to the calls that got no reply are expected; a missing acknowledged call is a loss.
      text: "every call the clients saw answered is in the stats after the crash, outcome by outcome (extra only for calls that got no reply)",
      value: `${statsVsClients.rows.map((r) => `${r.outcome} ${r.missing >= 0 ? "-" : "+"}${Math.abs(r.missing)}`).join(", ")}; ${statsVsClients.unacknowledged} got no reply`,
      pass:
        statsVsClients.rows.every((r) => r.missing <= 0) &&
        -statsVsClients.rows.reduce((n, r) => n + Math.min(0, r.missing), 0) <= statsVsClients.unacknowledged,
    },
    {
      id: "slow",
      text: `no call over ${SLOW_MS / 1000} s outside the crash`,
      value: String(nonCrash.filter((c) => c.end - c.start > SLOW_MS).length),
      pass: nonCrash.every((c) => c.end - c.start <= SLOW_MS),
    },
    {
      id: "5xx",
      text: "no HTTP 5xx outside the crash",
      value: String(nonCrash.filter((c) => c.kind === "http" && /** @type {number} */ (c.code) >= 500).length),
      pass: !nonCrash.some((c) => c.kind === "http" && /** @type {number} */ (c.code) >= 500),
    },
    { id: "crosstalk", text: "no cross-talk", value: String(all.crosstalk), pass: all.crosstalk === 0 },
    {
      id: "healthy",
      text: "healthy upstream at 100 % in every phase but the crash",
      value: summaries.map((p) => `${p.name} ${p.upstreams.healthy ? (p.upstreams.healthy.okRate * 100).toFixed(2) : "–"}`).join(", "),
      pass: healthyOk,
    },
  ];

  const wallSeconds = (Date.now() - startedAt) / 1000;
  const doc = {
    schema: 1,
    mode: modeName,
    startedAt: new Date(startedAt).toISOString(),
    wallSeconds,
    machine: { cpuModel: cpus()[0]?.model ?? "unknown", cpus: cpus().length, kernel: release(), node: process.version },
    versions: { wrangler: pkgVersion("wrangler"), sdk: pkgVersion("@modelcontextprotocol/sdk") },
    source: { commit: src.commit, dirty: src.dirty },
    settings: {
      ...mode,
      clients: CLIENTS,
      sessionScope: opts.scope,
      faultyTimeoutMs: FAULTY_TIMEOUT_MS,
      hangMs: HANG_MS,
      faults: FAULTS,
      faultPercent: Math.round((FAULTS.errorRate + FAULTS.hangRate) * 100),
    },
    seededSessions: { faulty: seededSessions.faulty.open, healthy: seededSessions.healthy.open },
    phases: summaries,
    all,
    faultRuns,
    timings,
    breakerEvents: events,
    sessionsEnd,
    sessionsEndHealthy,
    healthChecks,
    stats: stats?.totals ?? null,
    statsVsClients,
    rss,
    heap,
    loadStats: load.stats(),
    checks,
  };
  const md = renderSoakMarkdown(doc);
  console.log(md);
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(doc, null, 1)}\n`);
  writeFileSync(join(ROOT, "bench/results/soak-latest.md"), `${md}\n`);
  // Every call and probe, for analysis after the fact: [client, upstream, start ms, end ms, kind, code].
  const rawPath = `${opts.out.replace(/\.json$/, "")}.calls.json`;
  writeFileSync(
    rawPath,
    JSON.stringify({
      calls: calls.map((c) => [c.client, c.upstream, Math.round(c.start * 10) / 10, Math.round(c.end * 10) / 10, c.kind, c.code]),
      probes: probes.map((r) => [Math.round(r.start * 10) / 10, Math.round(r.end * 10) / 10, r.ok ? 1 : 0]),
      phases: phases.map((p) => ({ name: p.name, start: p.start, end: p.end, events: p.events })),
      breakerEvents: events,
    }),
  );
  log(`wrote ${opts.out} and bench/results/soak-latest.md (${wallSeconds.toFixed(0)} s)`);
}

/** @param {string} name */
function pkgVersion(name) {
  try {
    return /** @type {string} */ (JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version);
  } catch {
    return "?";
  }
}

/**
 * Used heap of the gateway's isolate (Runtime.getHeapUsage) through wrangler dev's inspector
 * proxy; rejects when it does not answer within 2 s.
 * @param {number} port
 */
async function isolateHeap(port) {
  const targets = /** @type {{ webSocketDebuggerUrl?: string }[]} */ (
    await (await fetch(`http://127.0.0.1:${port}/json`, { signal: AbortSignal.timeout(2_000) })).json()
  );
  const wsUrl = targets.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
  if (!wsUrl) throw new Error("no inspector target");
  // wrangler's inspector proxy wants an allowed Origin (InspectorProxyWorker); undici sends none by default.
  const ws = new WebSocket(wsUrl, /** @type {any} */ ({ headers: { origin: "http://127.0.0.1" } }));
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("inspector timeout")), 2_000);
      ws.onerror = () => reject(new Error("inspector error"));
      ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: "Runtime.getHeapUsage" }));
      ws.onmessage = (m) => {
        const msg = JSON.parse(String(m.data));
        if (msg.id === 1) {
          clearTimeout(timer);
          if (msg.result) resolve(/** @type {number} */ (msg.result.usedSize));
          else reject(new Error(JSON.stringify(msg.error)));
        }
      };
    });
  } finally {
    ws.close();
  }
}
