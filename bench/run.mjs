/**
 * `npm run bench [-- --quick] [--ref <git-ref>] [--reps N] [--cell-ms N] [--deadline-s N] [--wrangler-dev | --no-wrangler-dev]
 *   [--storage tmpfs|disk] [--out file]`
 *
 * One bounded, loopback-only benchmark of the gateway against direct calls, a bare forwarding
 * worker (floor), a naive SDK-per-request proxy and a Node peer proxy; see bench/README.md.
 *
 *   1. build the production bundle (`wrangler deploy --dry-run`) and the naive-proxy worker
 *   2. start the upstream MCP servers and the peer (Node children), and the gateway, floor, naive
 *      and timer workers in one Miniflare/workerd; seed presets through the REST API
 *      (and, in the full run, the same gateway under `wrangler dev` as an extra row)
 *   3. warm every (target, workload) cell, then run the repetitions, targets rotated each time
 *   4. probe server time inside workerd; print the tables and the pass/miss of each target;
 *      write bench/results/latest.json
 *
 * Exits 0 whenever the run completed (a missed target is a finding, not a failure); 1 if the
 * harness itself failed or overran its deadline. Everything it starts is stopped on the way out.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { buildGateway, buildNaiveProxy, prepareSource, ROOT } from "./lib/build.mjs";
import { forkReady, startGuard, stopChild } from "./lib/children.mjs";
import { MODERN_PROTOCOL_VERSION, PROTOCOL_VERSION, runCell } from "./lib/driver.mjs";
import { benchSecrets, seedGateway, startMiniflare } from "./lib/gateway.mjs";
import { CATALOG_SIZES, MODES, opFor, rotate, runsOn, SCOPE_CALLERS, TARGETS, WORKLOADS } from "./lib/plan.mjs";
import { probeServerTime } from "./lib/probe.mjs";
import { cpuDelta, descendants, descendantsNamed, sampleCpu } from "./lib/procfs.mjs";
import { checkTargets, cpuPerRequest, rawCell, renderMarkdown, summarizeCells } from "./lib/report.mjs";
import { startWranglerDev } from "./lib/wrangler-dev.mjs";

const { values: opts } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    ref: { type: "string" },
    reps: { type: "string" },
    "cell-ms": { type: "string" },
    "deadline-s": { type: "string" },
    "wrangler-dev": { type: "boolean" },
    "no-wrangler-dev": { type: "boolean" },
    out: { type: "string", default: join(ROOT, "bench/results/latest.json") },
    storage: { type: "string", default: "tmpfs" },
  },
});
const modeName = opts.quick ? "quick" : "full";
const mode = {
  ...MODES[modeName],
  ...(opts.reps ? { reps: Math.max(1, Number(opts.reps)) } : {}),
  ...(opts["cell-ms"] ? { cellMs: Number(opts["cell-ms"]) } : {}),
  ...(opts["deadline-s"] ? { deadlineMs: Number(opts["deadline-s"]) * 1000 } : {}),
};
if (opts["wrangler-dev"]) mode.wranglerDev = true;
if (opts["no-wrangler-dev"]) mode.wranglerDev = false;

const startedAt = Date.now();
const log = (/** @type {string} */ m) => console.error(`[bench ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(3)}s] ${m}`);
const tmp = mkdtempSync(join(tmpdir(), "mcpgate-bench-"));
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

// The run stops by itself: past the deadline everything is torn down and we exit 1.
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
  log(`${modeName} run: ${mode.reps} repetitions, ${mode.cellMs} ms per cell, warm-up ${mode.warmupMs} ms${opts.ref ? `, source ${opts.ref}` : ""}`);
  const src = prepareSource(opts.ref, join(tmp, "src"));
  const bundle = await buildGateway(src.root, join(tmp, "dist"));
  const naivePath = await buildNaiveProxy(join(tmp, "naive", "naive-proxy.mjs"));
  log(`built: bundle ${(bundle.rawBytes / 1024).toFixed(0)} KiB, ${(bundle.gzipBytes / 1024).toFixed(0)} KiB gzip`);

  const upstream = await forkReady(join(ROOT, "bench/servers/upstream.mjs"));
  cleanups.push(() => stopChild(upstream.child));
  const upstreamBase = /** @type {string} */ (upstream.ready.url);
  const servers = ["bench", ...CATALOG_SIZES.map((n) => `tools${n}`)];
  const peer = await forkReady(join(ROOT, "bench/servers/peer.mjs"), [upstreamBase, ...servers]);
  cleanups.push(() => stopChild(peer.child));

  const secrets = benchSecrets();
  const storage = storageDir(opts.storage ?? "tmpfs");
  cleanups.push(() => rmSync(storage.dir, { recursive: true, force: true }));
  const { mf, urls } = await startMiniflare({ srcRoot: src.root, scriptPath: bundle.scriptPath, naivePath, upstreamBase, persistDir: storage.dir, secrets });
  cleanups.push(() => mf.dispose());
  const workerd = descendantsNamed(process.pid, "workerd");
  for (const pid of workerd) guard.watch(pid);
  const callers = WORKLOADS.some((w) => w.callers) ? SCOPE_CALLERS : 0;
  const seed = await seedGateway(urls.gateway, secrets.ADMIN_TOKEN, upstreamBase, CATALOG_SIZES, callers);
  if (!seed.rateLimitLifted) log("note: this API has no preset rate limit to lift");
  if (!seed.sessionScopes) log("note: this API has no upstream session scopes: the scope-* rows all measure one shared session");

  /** @type {{ url: string, pid: number, stop: () => Promise<void> } | undefined} */
  let dev;
  if (mode.wranglerDev) {
    try {
      dev = await startWranglerDev({
        srcRoot: src.root,
        dir: join(tmp, "wrangler-dev"),
        persistDir: join(storage.dir, "wrangler-dev"),
        secrets,
        onStart: (pid) => guard.watch(-pid),
      });
      cleanups.push(/** @type {NonNullable<typeof dev>} */ (dev).stop);
      await seedGateway(dev.url, secrets.ADMIN_TOKEN, upstreamBase, CATALOG_SIZES);
    } catch (e) {
      log(`wrangler dev row skipped: ${e instanceof Error ? e.message.split("\n")[0] : e}`);
      dev = undefined;
    }
  }
  log(`up: upstream ${upstreamBase}, gateway ${urls.gateway}, workerd pid ${workerd.join(",")}${dev ? `, wrangler dev ${dev.url}` : ""}`);

  const endpoints = {
    upstream: upstreamBase,
    ...urls,
    peer: peer.ready.urls,
    dev: dev?.url,
    handle: seed.handle,
    token: seed.token,
    callerTokens: seed.callerTokens,
  };
  /** @type {Record<string, number[]>} */
  const cpuGroups = { driver: [process.pid], upstream: [/** @type {number} */ (upstream.child.pid)], workerd, peer: [/** @type {number} */ (peer.child.pid)] };
  if (dev) cpuGroups["wrangler-dev"] = [dev.pid, ...descendants(dev.pid)];
  const targets = TARGETS.filter((t) => t.id !== "wrangler-dev" || dev);
  const targetsFor = (/** @type {import('./lib/plan.mjs').Workload} */ w) => targets.filter((t) => runsOn(w, t));

  /** The upstream server's counters: sessions it initialized, messages by JSON-RPC method. */
  const upstreamStats = async (/** @type {string} */ server) =>
    /** @type {{ initializes: number, requests: Record<string, number> }} */ (await (await fetch(`${upstreamBase}/__stats/${server}`)).json());
  /** Messages the upstream server has received so far, by JSON-RPC method. */
  const upstreamCounts = async (/** @type {string} */ server) => (await upstreamStats(server)).requests;
  /** Upstream sessions the first (warm-up) cell of each workload opened, gateway only. */
  /** @type {Record<string, number>} */
  const warmupSessions = {};

  /** @param {import('./lib/plan.mjs').Target} t @param {import('./lib/plan.mjs').Workload} w @param {number} durationMs @param {number} rep */
  const runOne = async (t, w, durationMs, rep) => {
    const addr = t.address(w, endpoints);
    /** @type {Record<string, number>} */
    let cpu0 = {},
      cpu1 = {},
      up0 = {},
      up1 = {};
    // Upstream sessions opened over the whole cell, setup and teardown included (the timed
    // window alone misses the sessions its clients' setup opened).
    const init0 = (await upstreamStats(w.server)).initializes;
    const r = await runCell({
      origin: addr.origin,
      path: addr.path,
      headers: addr.headers,
      clientHeaders: addr.clientHeaders,
      concurrency: w.concurrency,
      durationMs,
      op: opFor(w.op, addr.toolPrefix),
      era: w.era,
      hooks: {
        before: async () => {
          up0 = await upstreamCounts(w.server);
          cpu0 = sampleCpu(cpuGroups);
        },
        after: async () => {
          cpu1 = sampleCpu(cpuGroups);
          up1 = await upstreamCounts(w.server);
        },
      },
    });
    const byMethod = Object.fromEntries(
      Object.keys(up1)
        .map((m) => [m, up1[m] - (up0[m] ?? 0)])
        .filter(([, n]) => n !== 0),
    );
    const total = Object.values(byMethod).reduce((a, b) => a + b, 0);
    const upstreamSessions = (await upstreamStats(w.server)).initializes - init0;
    if (rep < 0 && t.id === "gateway") warmupSessions[w.id] = upstreamSessions;
    return {
      rep,
      target: t.id,
      workload: w.id,
      ...r,
      cpuMs: cpuDelta(cpu0, cpu1),
      upstreamMessages: r.wallMs > 0 ? total : null,
      upstreamByMethod: byMethod,
      upstreamSessions,
    };
  };

  log("warm-up: every cell once");
  for (const w of WORKLOADS) for (const t of targetsFor(w)) await runOne(t, w, mode.warmupMs, -1);

  /** @type {import('./lib/report.mjs').Cell[]} */
  const cells = [];
  for (let rep = 0; rep < mode.reps; rep++) {
    for (const w of WORKLOADS) {
      const line = [];
      for (const t of rotate(targetsFor(w), rep)) {
        const cell = await runOne(t, w, mode.cellMs, rep);
        cells.push(cell);
        const p50 = Float64Array.from(cell.latencies).sort()[Math.floor(cell.latencies.length / 2)];
        line.push(`${t.id} ${p50?.toFixed(2) ?? "–"}ms${cell.errors ? ` (${cell.errors} err: ${cell.firstError})` : ""}`);
      }
      log(`rep ${rep + 1}/${mode.reps} ${w.id}: ${line.join(", ")}`);
    }
  }

  log("server-time probe (inside workerd)");
  const serverTime = await probeServerTime({ timer: urls.timer, handle: seed.handle, samples: mode.probeSamples, catalogSizes: CATALOG_SIZES });

  const results = summarizeCells(
    cells,
    targets.map((t) => t.id),
    WORKLOADS.map((w) => w.id),
  );
  const cpu = cpuPerRequest(cells, "echo-c32");
  const bundleGzipBytes = bundle.wranglerReport ? bundle.wranglerReport.gzipKiB * 1024 : bundle.gzipBytes;
  const checks = checkTargets(results, { serverTime, bundleGzipBytes });
  const wallSeconds = (Date.now() - startedAt) / 1000;
  const machine = {
    cpuModel: cpus()[0]?.model ?? "unknown",
    cpus: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
  };
  const versions = packageVersions();
  const header = [
    `## mcpgate benchmark (${modeName}, ${mode.reps} reps × ${mode.cellMs} ms per cell, ${wallSeconds.toFixed(0)} s)`,
    "",
    `${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, workerd ${versions.workerd}, wrangler ${versions.wrangler}, SDK ${versions["@modelcontextprotocol/sdk"]}; ` +
      `source ${src.commit?.slice(0, 10) ?? "?"}${src.dirty ? " + uncommitted changes" : ""}. JSON replies everywhere; p50/p99 pooled over repetitions, req/s = median of repetitions; ×direct and ×floor are req/s ratios.`,
  ].join("\n");
  console.log(renderMarkdown({ results, targets, workloads: WORKLOADS, cpu, serverTime, checks, bundle, header, warmupSessions }));

  const doc = {
    schema: 1,
    mode: modeName,
    startedAt: new Date(startedAt).toISOString(),
    wallSeconds,
    machine,
    versions,
    source: { ref: opts.ref ?? "working tree", commit: src.commit, uncommittedChanges: src.dirty },
    settings: {
      ...mode,
      storage: storage.kind,
      protocolVersion: PROTOCOL_VERSION,
      modernProtocolVersion: MODERN_PROTOCOL_VERSION,
      wire: "application/json (upstream jsonResponse, peer enableJsonResponse)",
      rateLimitLifted: seed.rateLimitLifted,
      sessionScopes: seed.sessionScopes,
      scopeCallers: callers,
    },
    bundle: { rawBytes: bundle.rawBytes, gzipBytes: bundle.gzipBytes, gzipBytesChecked: bundleGzipBytes, wranglerReport: bundle.wranglerReport },
    targets: targets.map((t) => ({ id: t.id, label: t.label })),
    workloads: WORKLOADS.map((w) => ({
      id: w.id,
      label: w.label,
      concurrency: w.concurrency,
      era: w.era ?? "legacy",
      targets: w.targets ?? null,
      preset: w.preset,
      signedInCallers: w.callers ? w.concurrency : 0,
      sessionScope: w.scope ?? (seed.sessionScopes ? "shared" : null),
    })),
    results,
    cpuMsPerRequestAtSaturation: { workload: "echo-c32", byTarget: cpu },
    upstreamRequestsThroughGateway: Object.fromEntries(Object.entries(results.gateway ?? {}).map(([w, s]) => [w, s.upstreamRequestsPerOp])),
    upstreamSessionsThroughGateway: Object.fromEntries(
      Object.entries(results.gateway ?? {}).map(([w, s]) => [
        w,
        { warmupCell: warmupSessions[w] ?? null, perCell: s.upstreamSessionsPerCell, perOp: s.upstreamSessionsPerOp },
      ]),
    ),
    serverTime,
    checks,
    raw: cells.map(rawCell),
  };
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(doc, null, 1)}\n`);
  log(`wrote ${opts.out} (${wallSeconds.toFixed(0)} s)`);
}

/**
 * Where the local D1 and Durable Object SQLite files live. workerd commits a Durable Object's
 * writes on its event loop; on this VM's disk each commit's fsync costs milliseconds and stalls
 * every worker in the process, which production storage (commits off the request path, writes
 * here are allowUnconfirmed) does not. So the default is tmpfs; `--storage disk` shows the other case.
 * @param {string} kind
 */
function storageDir(kind) {
  if (kind !== "tmpfs" && kind !== "disk") throw new Error(`--storage must be tmpfs or disk, not ${kind}`);
  const base = kind === "tmpfs" && existsSync("/dev/shm") ? "/dev/shm" : tmp;
  return { kind: base === "/dev/shm" ? "tmpfs" : "disk", dir: mkdtempSync(join(base, "mcpgate-bench-state-")) };
}

function packageVersions() {
  // Read package.json files directly: some packages' `exports` hide them from require.resolve.
  const version = (/** @type {string} */ path) => {
    try {
      return /** @type {string} */ (JSON.parse(readFileSync(join(ROOT, path, "package.json"), "utf8")).version);
    } catch {
      return "unknown";
    }
  };
  const nm = (/** @type {string} */ name) => version(`node_modules/${name}`);
  return {
    mcpgate: version("."),
    wrangler: nm("wrangler"),
    miniflare: nm("miniflare"),
    workerd: version("node_modules/miniflare/node_modules/workerd") === "unknown" ? nm("workerd") : version("node_modules/miniflare/node_modules/workerd"),
    "@modelcontextprotocol/sdk": nm("@modelcontextprotocol/sdk"),
    "@civic/passthrough-mcp-server": nm("@civic/passthrough-mcp-server"),
    undici: nm("undici"),
    esbuild: nm("esbuild"),
  };
}
