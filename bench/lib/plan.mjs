/**
 * What a run measures: the modes (sizes), the workloads, and the targets with how each one is
 * addressed for a given workload. Pure data and functions, no I/O.
 */
export const CATALOG_SIZES = [10, 100, 1000];
/** The dual-era upstream servers (bench/servers/upstream.mjs): `echo`/`sleep`, and a 1,000-tool catalog. */
export const MODERN_SERVERS = { echo: "modern", list: "modern-tools1000", listSize: 1000 };
/** Targets that speak the 2026-07-28 era: the naive proxy and the peer are built on SDK v1 (2025 only). */
export const MODERN_TARGETS = ["direct", "gateway", "floor"];

/**
 * The presets whose `bench` server is attached with each upstream session scope (the other
 * presets attach theirs `shared`, as every result before scopes measured), and how many
 * signed-in callers (users with their own API token) the scope rows run as.
 */
export const SCOPE_PRESETS = { shared: "scope-shared", "per-caller": "scope-caller", "per-session": "scope-session" };
export const SCOPE_CALLERS = 8;

/** Repetitions, timed window per cell, warm-up per cell, samples of the server-time probe. */
export const MODES = {
  full: { reps: 3, cellMs: 2_500, warmupMs: 600, probeSamples: 300, wranglerDev: true, deadlineMs: 9.5 * 60_000 },
  quick: { reps: 3, cellMs: 350, warmupMs: 150, probeSamples: 100, wranglerDev: false, deadlineMs: 150_000 },
};

/**
 * @typedef {import('./driver.mjs').Operation} Operation
 * @typedef {{ id: string, label: string, server: string, preset: string, concurrency: number, op: Operation, extras: boolean,
 *   era?: import('./driver.mjs').Era, targets?: string[], legacyTwin?: string, callers?: boolean, scope?: string }} Workload
 *   `era` is the client's protocol era (legacy when absent); `targets`, when present, lists the
 *   only targets that run it (the others cannot speak that era and show "—"); `legacyTwin` is the
 *   legacy workload it is compared with. `callers`: each of the c clients is its own signed-in
 *   user (Endpoints.callerTokens), not anonymous; `scope` names the upstream session scope the
 *   row measures (its preset is one of SCOPE_PRESETS), for the upstream sessions table.
 */

const ECHO = { tool: "echo", args: { text: "hello" } };

/** @type {Workload[]} */
export const WORKLOADS = [
  ...[1, 8, 32].map((c) => ({
    id: `echo-c${c}`,
    label: `tools/call echo, c=${c}`,
    server: "bench",
    preset: "echo",
    concurrency: c,
    op: { kind: /** @type {const} */ ("call"), ...ECHO },
    extras: true,
  })),
  {
    id: "sleep20-c1",
    label: "tools/call sleep 20 ms, c=1",
    server: "bench",
    preset: "echo",
    concurrency: 1,
    op: { kind: "call", tool: "sleep", args: { ms: 20 } },
    extras: false,
  },
  ...CATALOG_SIZES.map((n) => ({
    id: `list-${n}`,
    label: `tools/list, ${n} tools, c=1`,
    server: `tools${n}`,
    preset: `list${n}`,
    concurrency: 1,
    op: { kind: /** @type {const} */ ("list"), expectTools: n },
    extras: false,
  })),
  {
    id: "churn-c1",
    label: "new session: initialize → list → call, c=1",
    server: "bench",
    preset: "echo",
    concurrency: 1,
    op: { kind: "churn", ...ECHO },
    extras: false,
  },
  // The 2026-07-28 era: no initialize, no session; every request carries its own `_meta` envelope.
  ...[1, 8].map((c) => ({
    id: `modern-echo-c${c}`,
    label: `2026-07-28 tools/call echo, c=${c}`,
    server: MODERN_SERVERS.echo,
    preset: "modern-echo",
    concurrency: c,
    op: { kind: /** @type {const} */ ("call"), ...ECHO },
    extras: false,
    era: /** @type {const} */ ("modern"),
    targets: MODERN_TARGETS,
    legacyTwin: `echo-c${c}`,
  })),
  {
    id: `modern-list-${MODERN_SERVERS.listSize}`,
    label: `2026-07-28 tools/list, ${MODERN_SERVERS.listSize} tools, c=1`,
    server: MODERN_SERVERS.list,
    preset: `modern-list${MODERN_SERVERS.listSize}`,
    concurrency: 1,
    op: { kind: "list", expectTools: MODERN_SERVERS.listSize },
    extras: false,
    era: "modern",
    targets: MODERN_TARGETS,
    legacyTwin: `list-${MODERN_SERVERS.listSize}`,
  },
  {
    id: "modern-churn-c1",
    label: "2026-07-28 new client: list → call (no handshake), c=1",
    server: MODERN_SERVERS.echo,
    preset: "modern-echo",
    concurrency: 1,
    op: { kind: "churn", ...ECHO },
    extras: false,
    era: "modern",
    targets: MODERN_TARGETS,
    legacyTwin: "churn-c1",
  },
  {
    // The same upstream and preset as the legacy churn row: only the client's era differs, so the
    // row shows what dropping the handshake saves (the gateway speaks 2025 to the upstream).
    id: "modern-churn-same-c1",
    label: "2026-07-28 new client over the 2025 upstream: list → call, c=1",
    server: "bench",
    preset: "echo",
    concurrency: 1,
    op: { kind: "churn", ...ECHO },
    extras: false,
    era: "modern",
    targets: ["gateway"],
    legacyTwin: "churn-c1",
  },
  // Upstream session scopes: the same upstream `bench` server on three presets that differ only
  // in the scope, called by 8 persistent clients that are 8 distinct signed-in users.
  ...Object.entries({ shared: "shared", "per-caller": "caller", "per-session": "session" }).map(([scope, short]) => ({
    id: `scope-${short}-c${SCOPE_CALLERS}`,
    label: `tools/call echo, c=${SCOPE_CALLERS}, ${SCOPE_CALLERS} signed-in callers, scope ${scope}`,
    server: "bench",
    preset: SCOPE_PRESETS[/** @type {keyof typeof SCOPE_PRESETS} */ (scope)],
    concurrency: SCOPE_CALLERS,
    op: { kind: /** @type {const} */ ("call"), ...ECHO },
    extras: false,
    targets: ["gateway"],
    callers: true,
    scope,
  })),
  {
    // churn-c1 under per-caller: an anonymous caller's upstream session is its client session's,
    // so every new client costs an upstream initialize (churn-c1's `shared` reuses one session).
    id: "scope-caller-churn-c1",
    label: "new session: initialize → list → call, c=1, anonymous, scope per-caller",
    server: "bench",
    preset: SCOPE_PRESETS["per-caller"],
    concurrency: 1,
    op: { kind: "churn", ...ECHO },
    extras: false,
    targets: ["gateway"],
    scope: "per-caller",
  },
];

/**
 * Whether `target` runs `workload`: extras only on workloads that take them, and only the
 * targets a workload lists when it lists some (see Workload.targets).
 * @param {Workload} w @param {{ id: string, extra: boolean }} t
 */
export function runsOn(w, t) {
  return (!t.extra || w.extras) && (!w.targets || w.targets.includes(t.id));
}

/**
 * @typedef {{ upstream: string, gateway: string, floor: string, naive: string, peer: Record<string, string>, dev?: string, handle: string, token: string,
 *   callerTokens: string[] }} Endpoints
 * @typedef {{ origin: string, path: string, headers?: Record<string, string>, clientHeaders?: Record<string, string>[], toolPrefix: string }} Address
 *   `clientHeaders[i]`, when present, adds to `headers` for client i (its own user's token).
 * @typedef {{ id: string, label: string, extra: boolean, address: (w: Workload, e: Endpoints) => Address }} Target
 */

/** @param {string} url @returns {{ origin: string, path: string }} */
const split = (url) => {
  const u = new URL(url);
  return { origin: u.origin, path: u.pathname };
};

/**
 * One `authorization` header per client, each a different signed-in user.
 * @param {Endpoints} e @param {number} n
 */
function callerHeaders(e, n) {
  if (e.callerTokens.length < n) throw new Error(`${n} signed-in callers wanted, ${e.callerTokens.length} seeded`);
  return e.callerTokens.slice(0, n).map((t) => ({ authorization: `Bearer ${t}` }));
}

/** @type {Target[]} */
export const TARGETS = [
  { id: "direct", label: "direct (client → upstream)", extra: false, address: (w, e) => ({ origin: e.upstream, path: `/${w.server}/mcp`, toolPrefix: "" }) },
  {
    id: "gateway",
    label: "gateway (public preset)",
    extra: false,
    address: (w, e) => ({
      origin: e.gateway,
      path: `/mcp/${e.handle}/${w.preset}`,
      toolPrefix: `${w.server}__`,
      ...(w.callers ? { clientHeaders: callerHeaders(e, w.concurrency) } : {}),
    }),
  },
  { id: "floor", label: "floor (bare forwarding worker)", extra: false, address: (w, e) => ({ origin: e.floor, path: `/${w.server}/mcp`, toolPrefix: "" }) },
  {
    id: "naive",
    label: "naive proxy (SDK client per request)",
    extra: false,
    address: (w, e) => ({ origin: e.naive, path: `/${w.server}/mcp`, toolPrefix: "" }),
  },
  { id: "peer", label: "peer (@civic/passthrough-mcp-server)", extra: false, address: (w, e) => ({ ...split(e.peer[w.server]), toolPrefix: "" }) },
  {
    id: "gateway-token",
    label: "gateway, private preset + API token",
    extra: true,
    address: (w, e) => ({
      origin: e.gateway,
      path: `/mcp/${e.handle}/${w.preset}-private`,
      headers: { authorization: `Bearer ${e.token}` },
      toolPrefix: `${w.server}__`,
    }),
  },
  {
    id: "wrangler-dev",
    label: "gateway under `wrangler dev`",
    extra: true,
    address: (w, e) => ({ origin: /** @type {string} */ (e.dev), path: `/mcp/${e.handle}/${w.preset}`, toolPrefix: `${w.server}__` }),
  },
];

/**
 * The operation as a target sees it: gateways expose `<server>__<tool>`.
 * @param {Operation} op @param {string} prefix @returns {Operation}
 */
export function opFor(op, prefix) {
  return op.kind === "list" ? op : { ...op, tool: `${prefix}${op.tool}` };
}

/**
 * Targets in the order of repetition `rep`: rotated by one each time, so no target always runs
 * first (cold caches, turbo) or right after the heaviest one.
 * @template T @param {T[]} list @param {number} rep
 */
export function rotate(list, rep) {
  const k = rep % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}
