/**
 * The soak's numbers: per phase, what the clients saw (calls, outcomes, latency per upstream,
 * fail-fast and recovery times), what the stall probe saw, and the gateway's own stats compared
 * with the clients' acknowledged calls; then the markdown report. Pure functions, no I/O.
 */
import { quantile } from "./stats.mjs";

/** @typedef {import('./soak-clients.mjs').CallRecord} CallRecord */
/** @typedef {import('./soak-clients.mjs').ProbeRecord} ProbeRecord */

/** JSON-RPC error codes of the gateway (src/mcp/jsonrpc.ts RpcCode) → the call outcome its stats count (src/usage/call-record.ts). */
const RPC_OUTCOME = /** @type {Record<number, string>} */ ({
  [-32010]: "upstream_error",
  [-32012]: "upstream_error",
  [-32011]: "timeout",
  [-32013]: "breaker_open",
  [-32029]: "rate_limited",
  [-32800]: "cancelled",
});
/** Faster than this, a refusal is a fail-fast (no upstream was waited on). */
export const FAIL_FAST_MS = 100;
/** The issue's bound on any call. */
export const SLOW_MS = 700;

/** The outcome the gateway's stats should have counted for an acknowledged call, null if none. @param {CallRecord} c */
export function gatewayOutcome(c) {
  if (c.kind === "ok") return "ok";
  if (c.kind === "tool_error") return "tool_error";
  if (c.kind === "rpc") return RPC_OUTCOME[/** @type {number} */ (c.code)] ?? `rpc ${c.code}`;
  return null;
}

/** @param {CallRecord} c */
export const kindLabel = (c) => (c.kind === "rpc" || c.kind === "http" ? `${c.kind} ${c.code}` : c.kind);

/** @param {number[]} xs */
function pct(xs) {
  const s = Float64Array.from(xs).sort();
  return { n: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s.length ? s[s.length - 1] : NaN };
}

/**
 * @param {{ name: string, start: number, end: number, events?: Record<string, number> }} phase  events: named instants (ms) inside it, e.g. down, up, kill
 * @param {CallRecord[]} calls every call of the run @param {ProbeRecord[]} probes
 */
export function summarizePhase(phase, calls, probes) {
  const mine = calls.filter((c) => c.end >= phase.start && c.end < phase.end);
  /** @type {Record<string, number>} */
  const byKind = {};
  for (const c of mine) byKind[kindLabel(c)] = (byKind[kindLabel(c)] ?? 0) + 1;
  /** @type {Record<string, any>} */
  const upstreams = {};
  for (const u of [...new Set(mine.map((c) => c.upstream))].sort()) {
    const us = mine.filter((c) => c.upstream === u);
    const ok = us.filter((c) => c.kind === "ok");
    upstreams[u] = {
      calls: us.length,
      ok: ok.length,
      okRate: us.length ? ok.length / us.length : NaN,
      latencyMs: pct(us.map((c) => c.end - c.start)),
      okLatencyMs: pct(ok.map((c) => c.end - c.start)),
    };
  }
  const p = probes.filter((r) => r.end >= phase.start && r.end < phase.end);
  return {
    name: phase.name,
    startMs: phase.start,
    durationMs: phase.end - phase.start,
    calls: mine.length,
    byKind,
    upstreams,
    slowCalls: mine.filter((c) => c.end - c.start > SLOW_MS).length,
    http5xx: mine.filter((c) => c.kind === "http" && /** @type {number} */ (c.code) >= 500).length,
    crosstalk: mine.filter((c) => c.kind === "crosstalk").length,
    stallProbeMs: { ...pct(p.filter((r) => r.ok).map((r) => r.end - r.start)), failed: p.filter((r) => !r.ok).length },
  };
}

/**
 * Fail-fast: from `at` (the outage's start), how long until a call to `upstream` came back in
 * under FAIL_FAST_MS with a refusal (breaker open or upstream unavailable). Recovery: from `at`
 * (back up), how long until the first ok call to it that started after `at`.
 * @param {CallRecord[]} calls @param {string} upstream @param {number} at
 */
export function failFastMs(calls, upstream, at) {
  const first = calls
    .filter((c) => c.upstream === upstream && c.start >= at && c.end - c.start < FAIL_FAST_MS && c.kind === "rpc" && (c.code === -32013 || c.code === -32010))
    .sort((a, b) => a.end - b.end)[0];
  return first ? first.end - at : null;
}
/** @param {CallRecord[]} calls @param {string} upstream @param {number} at */
export function recoveryMs(calls, upstream, at) {
  const first = calls.filter((c) => c.upstream === upstream && c.start >= at && c.kind === "ok").sort((a, b) => a.end - b.end)[0];
  return first ? first.end - at : null;
}

/**
 * What happened to `upstream` around `at` (a breaker opening, as the object recorded it): the calls
 * that started in the `windowMs` before it, whose replies may still have been on their way
 * (ending up to 1 s after); their outcomes, the last 5 failures before the first breaker refusal,
 * how tightly those started and ended, and the stall probe meanwhile.
 * @param {CallRecord[]} calls @param {ProbeRecord[]} probes @param {string} upstream @param {number} at @param {number} [windowMs]
 */
export function beforeOpening(calls, probes, upstream, at, windowMs = 2_000) {
  const mine = calls.filter((c) => c.upstream === upstream && c.start < at && c.start > at - windowMs && c.end <= at + 1_000).sort((a, b) => a.end - b.end);
  const failures = mine.filter((c) => c.kind !== "ok" && !(c.kind === "rpc" && c.code === -32013));
  const last = failures.slice(-5);
  const spread = (/** @type {number[]} */ xs) => (xs.length ? Math.round(Math.max(...xs) - Math.min(...xs)) : null);
  const p = probes.filter((r) => r.end > at - windowMs && r.start <= at + 50);
  return {
    atMs: at,
    calls: mine.length,
    failures: failures.length,
    lastFailures: last.map((c) => ({ startMs: Math.round(c.start), endMs: Math.round(c.end), latencyMs: Math.round(c.end - c.start), kind: kindLabel(c) })),
    lastFailuresSpreadMs: spread(last.map((c) => c.end)),
    lastFailuresStartSpreadMs: spread(last.map((c) => c.start)),
    okLatencyMs: pct(mine.filter((c) => c.kind === "ok").map((c) => c.end - c.start)),
    stallProbeMaxMs: p.length ? Math.max(...p.map((r) => r.end - r.start)) : null,
  };
}

/**
 * How the failures of `upstream` in [start, end) bunch: runs of failures whose replies ended within
 * `gapMs` of the previous one. Independent faults at a few % hardly ever end within a few ms of
 * each other; a stall of the gateway ends every deadline it held back at once.
 * @param {CallRecord[]} calls @param {string} upstream @param {number} start @param {number} end @param {number} [gapMs]
 */
export function failureBursts(calls, upstream, start, end, gapMs = 20) {
  const fails = calls.filter((c) => c.upstream === upstream && c.end >= start && c.end < end && c.kind !== "ok").sort((a, b) => a.end - b.end);
  const timeouts = fails.filter((c) => c.kind === "rpc" && c.code === -32011);
  /** @type {number[]} */
  const sizes = [];
  let run = 0;
  for (let i = 0; i < fails.length; i++) {
    if (i > 0 && fails[i].end - fails[i - 1].end <= gapMs) run++;
    else {
      if (run > 1) sizes.push(run);
      run = 1;
    }
  }
  if (run > 1) sizes.push(run);
  // The timeouts' latency: a hang is cut at timeoutMs; much more means the gateway was late itself.
  const tLat = pct(timeouts.map((c) => c.end - c.start));
  return {
    failures: fails.length,
    timeouts: timeouts.length,
    bursts: sizes.length,
    inBursts: sizes.reduce((a, b) => a + b, 0),
    maxBurst: sizes.length ? Math.max(...sizes) : 0,
    timeoutLatencyMs: tLat,
  };
}

/**
 * Stats vs clients, outcome by outcome: what the clients saw acknowledged (a reply from the
 * gateway) against the preset's stats totals.
 * @param {CallRecord[]} calls @param {{ totals: { calls: number, outcomes: Record<string, number> } } | null} stats
 */
export function compareStats(calls, stats) {
  /** @type {Record<string, number>} */
  const clients = {};
  let acknowledged = 0;
  for (const c of calls) {
    const o = gatewayOutcome(c);
    if (!o) continue;
    acknowledged++;
    clients[o] = (clients[o] ?? 0) + 1;
  }
  const gw = stats?.totals?.outcomes ?? {};
  const keys = [...new Set([...Object.keys(clients), ...Object.keys(gw).filter((k) => gw[k])])];
  const rows = keys.map((k) => ({ outcome: k, clients: clients[k] ?? 0, stats: gw[k] ?? 0, missing: (clients[k] ?? 0) - (gw[k] ?? 0) }));
  return {
    acknowledged,
    statsCalls: stats?.totals?.calls ?? null,
    missing: acknowledged - (stats?.totals?.calls ?? 0),
    rows,
    unacknowledged: calls.length - acknowledged,
  };
}

const f = (/** @type {number | null | undefined} */ x, d = 0) => (x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(d));
const mb = (/** @type {number | null | undefined} */ b) => (b === null || b === undefined ? "–" : `${(b / 2 ** 20).toFixed(0)}`);

/** @param {any} doc the soak's JSON document */
export function renderSoakMarkdown(doc) {
  const out = [];
  out.push(`## mcpgate soak (${doc.mode}, ${doc.settings.clients} clients, ${doc.wallSeconds.toFixed(0)} s)`, "");
  out.push(
    `${doc.machine.cpus} × ${doc.machine.cpuModel}, Node ${doc.machine.node}, wrangler ${doc.versions.wrangler}, SDK ${doc.versions.sdk}; source ${doc.source.commit?.slice(0, 10) ?? "?"}${doc.source.dirty ? " + uncommitted changes" : ""}. ` +
      `Gateway under \`wrangler dev\`; upstream \`faulty\` timeoutMs ${doc.settings.faultyTimeoutMs}, hangs ${doc.settings.hangMs} ms, faults on ${doc.settings.faults.methods?.join(", ") ?? "tools/call"}; session scope ${doc.settings.sessionScope}. ` +
      `Latency in ms seen by the clients; "stall" is a ping answered by the preset's Durable Object alone.`,
    "",
  );
  out.push(
    "| phase | s | calls | outcomes | faulty ok % | faulty p50/p99/max | healthy ok % | healthy p50/p99/max | >0.7 s | 5xx | cross-talk | stall p99/max | injected 500/hang → seen -32010/-32011 | upstream 404s | breaker | sessions opened/ended/dropped/open/live | workerd RSS MB |",
  );
  out.push("|---|--:|--:|---|--:|---|--:|---|--:|--:|--:|---|---|--:|---|---|--:|");
  for (const p of doc.phases) {
    const u = (/** @type {string} */ n) => p.upstreams[n];
    const lat = (/** @type {any} */ x) => (x ? `${f(x.latencyMs.p50)}/${f(x.latencyMs.p99)}/${f(x.latencyMs.max)}` : "–");
    const okp = (/** @type {any} */ x) => (x ? f(x.okRate * 100, 1) : "–");
    const kinds = Object.entries(p.byKind)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(", ");
    const br = p.breaker.length ? p.breaker.map((/** @type {any} */ e) => `${e.type.replace("breaker.", "")}@${f(e.atMs / 1000, 1)}s`).join(" ") : "—";
    const s = p.sessions?.faulty;
    const sess = s ? `${s.opened}/${s.endedByDelete}/${s.droppedByRestart}/${s.open}/${s.live}` : "–";
    out.push(
      `| ${p.name} | ${f(p.durationMs / 1000)} | ${p.calls} | ${kinds || "—"} | ${okp(u("faulty"))} | ${lat(u("faulty"))} | ${okp(u("healthy"))} | ${lat(u("healthy"))} | ${p.slowCalls} | ${p.http5xx} | ${p.crosstalk} | ${f(p.stallProbeMs.p99)}/${f(p.stallProbeMs.max)} | ${s ? `${s.injected500}/${s.injectedHang} → ${p.byKind["rpc -32010"] ?? 0}/${p.byKind["rpc -32011"] ?? 0}` : "–"} | ${s?.notFound ?? "–"} | ${br} | ${sess} | ${mb(p.rss?.workerdBytes)} |`,
    );
  }
  out.push("");
  out.push(
    "Injected → seen: the faults the faulty upstream injected in the phase against the JSON-RPC errors the clients got for it (-32010 upstream unavailable, -32011 upstream timeout); timeouts beyond the injected hangs are time the gateway lost itself and blamed on the upstream. Upstream 404s: requests the faulty upstream refused for an unknown session id.",
    "",
  );
  out.push(
    "Sessions: the faulty upstream's counts over the phase (opened, ended by DELETE, dropped by its own restart or outage), and at the phase's end the sessions it still holds (open) and those the gateway sent on in the last 5 s (live).",
    "",
  );

  const t = doc.timings;
  out.push("### Faults, outage, recovery", "");
  out.push(
    `- **Breaker openings under ${doc.settings.faultPercent} % independent faults**: ${doc.faultRuns.map((/** @type {any} */ r) => r.openings).join(", ")} over ${doc.faultRuns.length} run(s) (total ${doc.faultRuns.reduce((n, /** @type {any} */ r) => n + r.openings, 0)}).`,
  );
  for (const r of doc.faultRuns) {
    const b = r.bursts;
    if (b)
      out.push(
        `  - ${r.name}: ${b.failures} failures (${b.timeouts} timeouts, latency p50/p99/max ${f(b.timeoutLatencyMs.p50)}/${f(b.timeoutLatencyMs.p99)}/${f(b.timeoutLatencyMs.max)} ms); ${b.inBursts} of them in ${b.bursts} bursts ending within 20 ms of each other (largest ${b.maxBurst}).`,
      );
    for (const o of r.beforeOpenings) {
      out.push(
        `  - ${r.name}: opened at ${f(o.atMs / 1000, 2)} s; of the calls started in the 2 s before, faulty ok p50/p99 ${f(o.okLatencyMs.p50)}/${f(o.okLatencyMs.p99)} ms, ${o.failures} failures, the last 5 started within ${f(o.lastFailuresStartSpreadMs)} ms and ended within ${f(o.lastFailuresSpreadMs)} ms of each other (${o.lastFailures.map((/** @type {any} */ x) => `${x.kind} ${x.latencyMs} ms`).join("; ")}); stall probe max ${f(o.stallProbeMaxMs)} ms.`,
      );
    }
  }
  out.push(`- **Fail-fast** after the outage started: ${f(t.failFastMs)} ms (first refusal in < ${FAIL_FAST_MS} ms).`);
  out.push(`- **Recovery** after the upstream came back: ${f(t.recoveryMs)} ms (first ok call).`);
  out.push(
    `- **Crash**: SIGKILL at ${f(t.killAtMs / 1000, 1)} s, gateway answering again after ${f(t.restartMs)} ms, first ok call ${f(t.crashRecoveryMs)} ms after the kill.`,
  );
  const s = doc.sessionsEnd;
  if (s) {
    out.push(
      `- **Upstream sessions** (faulty, whole run): ${s.opened} opened, ${s.endedByDelete} ended by DELETE, ${s.droppedByRestart} dropped by its restart/outage; at the end ${s.open} open: ${s.live} live, ${s.orphanedByCrash} orphaned by the crash (opened by the killed process, which could not end them), **${s.leftOpen} left open** by the gateway (${s.leftOpenBeforeCrash} idle at the end of the restart phase, ${s.leftOpenAfterRestart} opened after the crash's restart and idle). Idle sessions by the last fault they saw: ${JSON.stringify(s.idleByLastFault)}. Healthy: ${doc.sessionsEndHealthy?.opened ?? "–"} opened, ${doc.sessionsEndHealthy?.endedByDelete ?? "–"} ended, ${doc.sessionsEndHealthy?.open ?? "–"} open. Before the load (seeding), the faulty upstream held ${doc.seededSessions.faulty} session(s), the healthy ${doc.seededSessions.healthy}.`,
    );
  }
  out.push(
    `- **Driver**: event-loop delay p99 per phase ${doc.phases.map((/** @type {any} */ p) => f(p.driverLoopDelayMs?.p99)).join(" / ")} ms (the load driver itself shares the 2 cores).`,
  );
  const h = doc.healthChecks;
  if (h)
    out.push(
      `- **One-shot sessions** (GET /servers/healthy/health × ${h.checks} after the load): ${h.opened} upstream sessions opened, ${h.endedByDelete} ended by DELETE, ${h.leftOpen} left open.`,
    );
  const role = (/** @type {Record<string, number> | null} */ r) => (r ? `gateway ${mb(r.gateway)} + proxy ${mb(r.proxy)}` : "–");
  out.push(
    `- **workerd RSS** (both of wrangler dev's workerd processes): ${mb(doc.rss.firstBytes)} MB at the start (${role(doc.rss.firstByRole)}), ${mb(doc.rss.beforeCrashBytes)} MB just before the crash (${role(doc.rss.beforeCrashByRole)}), ${mb(doc.rss.maxBytes)} MB max, ${mb(doc.rss.lastBytes)} MB at the end (restarted after the crash); isolate heap used ${doc.heap.first ? `${mb(doc.heap.first)} MB before the load, ${mb(doc.heap.last)} MB after it` : "not reachable"}.`,
  );
  out.push("");
  out.push("### Stats vs clients (whole run, GET /presets/:slug/stats?window=1h after the cool-down)", "");
  const c = doc.statsVsClients;
  out.push("| outcome | clients (acknowledged) | stats | missing from stats |", "|---|--:|--:|--:|");
  for (const r of c.rows) out.push(`| ${r.outcome} | ${r.clients} | ${r.stats} | ${r.missing} |`);
  out.push(`| **total** | ${c.acknowledged} | ${f(c.statsCalls)} | ${c.missing} |`, "");
  const ce = doc.loadStats?.connectErrors;
  if (ce && Object.keys(ce).length)
    out.push(
      `Client connects that failed (${doc.loadStats.connectFailures}), by reason: ${Object.entries(ce)
        .map(([k, v]) => `${v.n}× "${k}" (last at ${f(/** @type {any} */ (v).lastMs / 1000, 1)} s)`)
        .join("; ")}.`,
      "",
    );
  if (c.ackedBeforeKill)
    out.push(
      `Acknowledged in the last 1 / 2 / 5 s before the kill: ${c.ackedBeforeKill.last1s} / ${c.ackedBeforeKill.last2s} / ${c.ackedBeforeKill.last5s}.`,
      "",
    );
  out.push(
    `${c.unacknowledged} calls got no reply (transport failures, mostly while the gateway was down); they are not expected in the stats either way.`,
    "",
  );
  out.push("### Checks", "");
  for (const ch of doc.checks) out.push(`- ${ch.pass ? "PASS" : "MISS"} ${ch.text}: ${ch.value}`);
  return out.join("\n");
}
