/**
 * Turns the cells of a run into the results document (bench/results/latest.json), the markdown
 * tables, and the pass/miss list of the issue's targets. Pure functions, no I/O.
 */
import { combineReps, mean, quantile } from "./stats.mjs";

const f = (/** @type {number} */ x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "–");
const fr = (/** @type {number[]} */ [a, b], d = 2) => `${f(a, d)}–${f(b, d)}`;

/**
 * @typedef {{ rep: number, target: string, workload: string, latencies: Float64Array, wallMs: number, errors: number,
 *   firstError: string | null, pagesPerOp: number, cpuMs: Record<string, number>, upstreamMessages: number | null,
 *   upstreamByMethod: Record<string, number>, upstreamSessions?: number }} Cell
 *   `upstreamSessions`: initializes the upstream server saw over the whole cell, setup and teardown included.
 */

/** Percentiles kept per cell in the raw section instead of every sample. */
const RAW_QUANTILES = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999];

/** @param {Cell} c */
export function rawCell(c) {
  const sorted = Float64Array.from(c.latencies).sort();
  return {
    rep: c.rep,
    target: c.target,
    workload: c.workload,
    n: sorted.length,
    errors: c.errors,
    firstError: c.firstError,
    wallMs: c.wallMs,
    rps: c.wallMs > 0 ? (sorted.length * 1000) / c.wallMs : null,
    meanMs: mean(sorted),
    quantilesMs: Object.fromEntries(RAW_QUANTILES.map((q) => [`p${q * 100}`, quantile(sorted, q)])),
    maxMs: sorted.length ? sorted[sorted.length - 1] : null,
    pagesPerOp: c.pagesPerOp,
    cpuMs: c.cpuMs,
    upstreamMessages: c.upstreamMessages,
    upstreamByMethod: c.upstreamByMethod,
    upstreamSessions: c.upstreamSessions ?? null,
  };
}

/**
 * Per target and workload: `{ p50Ms, p99Ms, rps, ratioToDirect, ratioToFloor }` plus spread,
 * added latency and upstream traffic. Ratios are of requests/s (higher is better).
 * @param {Cell[]} cells @param {string[]} targetIds @param {string[]} workloadIds
 */
export function summarizeCells(cells, targetIds, workloadIds) {
  /** @type {Record<string, Record<string, any>>} */
  const out = {};
  for (const t of targetIds) {
    for (const w of workloadIds) {
      const mine = cells.filter((c) => c.target === t && c.workload === w);
      if (mine.length === 0) continue;
      const s = combineReps(mine);
      const ops = mine.reduce((n, c) => n + c.latencies.length, 0);
      const up = mine.every((c) => c.upstreamMessages !== null) ? mine.reduce((n, c) => n + /** @type {number} */ (c.upstreamMessages), 0) : null;
      /** @type {Record<string, number>} */
      const byMethod = {};
      for (const c of mine) for (const [m, n] of Object.entries(c.upstreamByMethod)) byMethod[m] = (byMethod[m] ?? 0) + n;
      /** @type {Record<string, number>} */
      const cpu = {};
      for (const c of mine) for (const [g, ms] of Object.entries(c.cpuMs)) cpu[g] = (cpu[g] ?? 0) + ms;
      const perOp = (/** @type {number} */ x) => (ops ? x / ops : NaN);
      const sessions = mine.every((c) => c.upstreamSessions !== undefined) ? mine.reduce((n, c) => n + /** @type {number} */ (c.upstreamSessions), 0) : null;
      out[t] ??= {};
      out[t][w] = {
        ...s,
        pagesPerOp: mean(mine.map((c) => c.pagesPerOp)),
        upstreamRequestsPerOp: up === null || ops === 0 ? null : up / ops,
        upstreamSessionsPerCell: sessions === null ? null : sessions / mine.length,
        upstreamSessionsPerOp: sessions === null ? null : perOp(sessions),
        upstreamByMethodPerOp: Object.fromEntries(Object.entries(byMethod).map(([m, n]) => [m, perOp(n)])),
        cpuMsPerOp: Object.fromEntries(Object.entries(cpu).map(([g, ms]) => [g, perOp(ms)])),
        serverCpuMsPerOp: perOp(
          Object.entries(cpu)
            .filter(([g]) => g !== "driver")
            .reduce((a, [, ms]) => a + ms, 0),
        ),
        firstError: mine.find((c) => c.firstError)?.firstError ?? null,
      };
    }
  }
  for (const t of Object.keys(out)) {
    for (const [w, r] of Object.entries(out[t])) {
      const direct = out.direct?.[w];
      const floor = out.floor?.[w];
      r.ratioToDirect = direct ? r.rps / direct.rps : null;
      r.ratioToFloor = floor ? r.rps / floor.rps : null;
      r.addedP50MsVsDirect = direct ? r.p50Ms - direct.p50Ms : null;
      r.addedP50MsVsFloor = floor ? r.p50Ms - floor.p50Ms : null;
    }
  }
  return out;
}

/**
 * CPU per request of each process group over the saturation cells (all repetitions).
 * @param {Cell[]} cells @param {string} workload
 */
export function cpuPerRequest(cells, workload) {
  /** @type {Record<string, { requests: number, msPerRequest: Record<string, number> }>} */
  const out = {};
  for (const c of cells.filter((x) => x.workload === workload)) {
    out[c.target] ??= { requests: 0, msPerRequest: {} };
    const entry = out[c.target];
    entry.requests += c.latencies.length;
    for (const [group, ms] of Object.entries(c.cpuMs)) entry.msPerRequest[group] = (entry.msPerRequest[group] ?? 0) + ms;
  }
  for (const e of Object.values(out)) for (const g of Object.keys(e.msPerRequest)) e.msPerRequest[g] /= Math.max(1, e.requests);
  return out;
}

/**
 * The issue's targets, checked. Each: { id, text, value, pass } (pass null when not measured).
 * @param {Record<string, Record<string, any>>} r summaries
 * @param {{ serverTime: Record<string, { meanMs: number }>, bundleGzipBytes: number }} extra
 */
export function checkTargets(r, { serverTime, bundleGzipBytes }) {
  const g = r.gateway ?? {};
  const checks = [];
  const add = (/** @type {string} */ id, /** @type {string} */ text, /** @type {string} */ value, /** @type {boolean | null} */ pass) =>
    checks.push({ id, text, value, pass });
  const has = (/** @type {any} */ x) => x && x.n > 0;

  const e1 = g["echo-c1"];
  const f1 = r.floor?.["echo-c1"];
  add(
    "added-p50-c1",
    "gateway p50 − floor p50 at c=1 ≤ 0.5 ms",
    has(e1) && has(f1) ? `${f(e1.p50Ms - f1.p50Ms)} ms` : "n/a",
    has(e1) && has(f1) ? e1.p50Ms - f1.p50Ms <= 0.5 : null,
  );
  const e32 = g["echo-c32"];
  const f32 = r.floor?.["echo-c32"];
  add(
    "rps-c32",
    "gateway req/s at c=32 ≥ 0.9 × floor",
    has(e32) && has(f32) ? `${f(e32.rps / f32.rps)} × floor` : "n/a",
    has(e32) && has(f32) ? e32.rps >= 0.9 * f32.rps : null,
  );
  for (const c of [1, 8, 32]) {
    const a = g[`echo-c${c}`];
    const p = r.peer?.[`echo-c${c}`];
    const ok = has(a) && has(p);
    add(
      `peer-c${c}`,
      `ahead of the peer at c=${c} (lower p50 and higher req/s)`,
      ok ? `p50 ${f(a.p50Ms)} vs ${f(p.p50Ms)} ms, ${f(a.rps, 0)} vs ${f(p.rps, 0)} req/s` : "n/a",
      ok ? a.p50Ms < p.p50Ms && a.rps > p.rps : null,
    );
  }
  const n1 = r.naive?.["echo-c1"];
  add(
    "naive-5x",
    "≥ 5× faster than the naive proxy at p50 (c=1)",
    has(e1) && has(n1) ? `${f(n1.p50Ms / e1.p50Ms, 1)}×` : "n/a",
    has(e1) && has(n1) ? n1.p50Ms / e1.p50Ms >= 5 : null,
  );
  const lists = Object.entries(g).filter(([w, s]) => w.startsWith("list-") && has(s));
  const upList = lists.map(([, s]) => s.upstreamRequestsPerOp).filter((x) => x !== null);
  /** @type {Record<string, number>} */
  const methods = {};
  for (const [, s] of lists)
    for (const [m, n] of Object.entries(s.upstreamByMethodPerOp ?? {})) methods[m] = Math.max(methods[m] ?? 0, /** @type {number} */ (n));
  const detail = Object.keys(methods).length
    ? ` (${Object.entries(methods)
        .map(([m, n]) => `${m} ${f(n, 4)}`)
        .join(", ")})`
    : "";
  add(
    "warm-list-upstream",
    "warm tools/list: 0 upstream requests",
    upList.length ? `${f(Math.max(...upList), 4)} per list${detail}` : "n/a",
    upList.length ? Math.max(...upList) === 0 : null,
  );
  const st = serverTime["gateway list-1000"];
  const cpu1000 = g["list-1000"]?.cpuMsPerOp?.workerd;
  const cpuNote = cpu1000 === undefined ? "" : `; workerd CPU ${f(cpu1000)} ms per catalog`;
  add(
    "list-1000-server",
    "1,000-tool catalog served in ≤ 2 ms server time",
    st ? `${f(st.meanMs)} ms (mean wall, in workerd)${cpuNote}` : "n/a",
    st ? st.meanMs <= 2 : null,
  );
  const churn = g["churn-c1"];
  // Same upstream and preset, only the client's era differs (the modern upstream's own cost is in modern-churn-c1).
  const modernChurn = g["modern-churn-same-c1"];
  const churnOk = has(churn) && has(modernChurn);
  add(
    "modern-churn",
    "a new 2026-07-28 client (list → call, no handshake) ≥ 2× the req/s of a new legacy session through the gateway, same upstream",
    churnOk ? `${f(modernChurn.rps / churn.rps)}× (p50 ${f(modernChurn.p50Ms)} vs ${f(churn.p50Ms)} ms)` : "n/a",
    churnOk ? modernChurn.rps >= 2 * churn.rps : null,
  );
  add("bundle", "bundle ≤ 1 MiB gzip", `${f(bundleGzipBytes / 1024, 1)} KiB`, bundleGzipBytes <= 1024 * 1024);
  return checks;
}

/**
 * Targets that run every workload but not this one show as a row of "—" (a workload that lists
 * its targets: the others cannot speak its protocol era); extras are left out, as before.
 * @param {{ results: Record<string, Record<string, any>>, targets: { id: string, label: string, extra?: boolean }[],
 *   workloads: { id: string, label: string, targets?: string[], legacyTwin?: string }[],
 *   cpu: ReturnType<typeof cpuPerRequest>, serverTime: Record<string, any>, checks: ReturnType<typeof checkTargets>,
 *   bundle: { gzipBytes: number, rawBytes: number, wranglerReport: { gzipKiB: number } | null }, header: string,
 *   warmupSessions?: Record<string, number> }} doc
 */
export function renderMarkdown({ results, targets, workloads, cpu, serverTime, checks, bundle, header, warmupSessions = {} }) {
  const lines = [header, ""];
  lines.push(
    "| workload | target | p50 ms | p99 ms | req/s | p50 min–max | req/s min–max | req/s ×direct | req/s ×floor | p50 +floor ms | server CPU ms/op | upstream req/op | errors |",
  );
  lines.push("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
  const cols = 13;
  for (const w of workloads) {
    for (const t of targets) {
      const s = results[t.id]?.[w.id];
      if (!s && w.targets && !t.extra && !w.targets.includes(t.id)) {
        lines.push(`| ${w.label} | ${t.id} |${" — |".repeat(cols - 2)}`);
        continue;
      }
      if (!s) continue;
      lines.push(
        `| ${w.label} | ${t.id} | ${f(s.p50Ms)} | ${f(s.p99Ms)} | ${f(s.rps, 0)} | ${fr(s.p50Range)} | ${fr(s.rpsRange, 0)} | ${f(s.ratioToDirect)} | ${f(s.ratioToFloor)} | ${f(s.addedP50MsVsFloor)} | ${f(s.serverCpuMsPerOp, 3)} | ${s.upstreamRequestsPerOp === null ? "–" : f(s.upstreamRequestsPerOp, 3)} | ${s.errors} |`,
      );
    }
  }
  const twins = workloads.filter((w) => w.legacyTwin);
  if (twins.length) {
    lines.push("", "**2026-07-28 vs legacy, same operation** (modern ÷ legacy req/s: above 1.00 the modern row is faster; p50 in ms, legacy → modern)", "");
    const cmpTargets = targets.filter((t) => twins.some((w) => results[t.id]?.[w.id]));
    lines.push(`| workload | ${cmpTargets.map((t) => `${t.id} p50 | ${t.id} ×req/s`).join(" | ")} |`);
    lines.push(`|---|${cmpTargets.map(() => "--:|--:").join("|")}|`);
    for (const w of twins) {
      const legacyLabel = workloads.find((x) => x.id === w.legacyTwin)?.label ?? w.legacyTwin;
      const cells = cmpTargets.map((t) => {
        const m = results[t.id]?.[w.id];
        const l = results[t.id]?.[/** @type {string} */ (w.legacyTwin)];
        return m && l ? `${f(l.p50Ms)} → ${f(m.p50Ms)} | ${f(m.rps / l.rps)}` : "— | —";
      });
      lines.push(`| ${w.label} vs ${legacyLabel} | ${cells.join(" | ")} |`);
    }
  }
  lines.push(...scopeTable(results, workloads, warmupSessions));
  const groups = [...new Set(Object.values(cpu).flatMap((e) => Object.keys(e.msPerRequest)))];
  lines.push("", "**CPU ms per request at saturation (tools/call echo, c=32), per process** (servers = all but the driver)", "");
  lines.push(`| target | ${groups.join(" | ")} | servers |`, `|---|${groups.map(() => "--:").join("|")}|--:|`);
  for (const t of targets) {
    const e = cpu[t.id];
    if (!e) continue;
    const servers = groups.filter((g) => g !== "driver").reduce((sum, g) => sum + (e.msPerRequest[g] ?? 0), 0);
    lines.push(`| ${t.id} | ${groups.map((g) => f(e.msPerRequest[g] ?? NaN, 3)).join(" | ")} | ${f(servers, 3)} |`);
  }
  lines.push(
    "",
    "**Server time inside workerd** (timer worker around a service-binding call; workerd clocks tick in whole ms, so the mean of many samples is the estimate)",
    "",
  );
  lines.push("| what | mean ms | samples | pages/op |", "|---|--:|--:|--:|");
  for (const [k, v] of Object.entries(serverTime)) lines.push(`| ${k} | ${f(v.meanMs, 3)} | ${v.n} | ${f(v.pagesPerOp ?? 1, 0)} |`);
  const wr = bundle.wranglerReport ? ` (wrangler reports ${f(bundle.wranglerReport.gzipKiB, 1)} KiB gzip)` : "";
  lines.push("", `**Bundle**: ${f(bundle.rawBytes / 1024, 1)} KiB, ${f(bundle.gzipBytes / 1024, 1)} KiB gzip -9${wr}`, "");
  lines.push("**Targets**", "");
  for (const c of checks) lines.push(`- ${c.pass === null ? "n/a " : c.pass ? "PASS" : "MISS"} ${c.text}: ${c.value}`);
  return lines.join("\n");
}

/**
 * The upstream session scope rows through the gateway beside their `shared` twins: req/s against
 * the shared row of the same operation and against the floor's plain row (echo-c8, churn-c1), and
 * the upstream sessions (initializes) each opened. Empty when no workload names a scope.
 * @param {Record<string, Record<string, any>>} results
 * @param {{ id: string, label: string, concurrency?: number, op?: { kind: string }, scope?: string, callers?: boolean, era?: string }[]} workloads
 * @param {Record<string, number>} warmupSessions
 */
function scopeTable(results, workloads, warmupSessions) {
  const scoped = workloads.filter((w) => w.scope);
  if (!scoped.length) return [];
  const same = (/** @type {typeof workloads[number]} */ a, /** @type {typeof workloads[number]} */ b) =>
    a.op?.kind === b.op?.kind && a.concurrency === b.concurrency;
  /** The unscoped legacy row of the same operation (what the floor ran). @param {typeof workloads[number]} w */
  const plain = (w) => workloads.find((x) => !x.scope && !x.era && !x.callers && same(x, w));
  /** The shared row of the same operation: a scope row, else the plain row (churn-c1). @param {typeof workloads[number]} w */
  const sharedOf = (w) => scoped.find((x) => x.scope === "shared" && same(x, w)) ?? plain(w);
  const rows = [...new Set(scoped.flatMap((w) => [sharedOf(w), w]).filter((w) => w !== undefined))];
  const lines = [
    "",
    "**Upstream session scopes, gateway** (sessions = initializes the upstream saw: in the first cell of the run, and per timed cell with its setup; init/op = upstream initializes per timed operation)",
    "",
    "| workload | scope | p50 ms | req/s | ×shared | ×floor | sessions, first cell | sessions per cell | init/op |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const w of rows) {
    const s = results.gateway?.[w.id];
    if (!s) continue;
    const sh = results.gateway?.[sharedOf(w)?.id ?? ""];
    const fl = results.floor?.[plain(w)?.id ?? ""];
    const init = s.upstreamByMethodPerOp?.initialize ?? 0;
    lines.push(
      `| ${w.label} | ${w.scope ?? "shared"} | ${f(s.p50Ms)} | ${f(s.rps, 0)} | ${sh ? f(s.rps / sh.rps) : "–"} | ${fl ? f(s.rps / fl.rps) : "–"} | ${warmupSessions[w.id] ?? "–"} | ${s.upstreamSessionsPerCell === null ? "–" : f(s.upstreamSessionsPerCell, 1)} | ${f(init, 3)} |`,
    );
  }
  return lines;
}
