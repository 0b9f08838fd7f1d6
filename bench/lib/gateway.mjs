/**
 * The gateway under test, run through the Miniflare API: the production bundle in workerd with a
 * local D1 database and the PRESETS Durable Object class on SQLite storage, as wrangler.toml
 * declares them. `wrangler dev` would add its own proxy in front (see wrangler-dev.mjs), so the
 * main rows use this instead.
 *
 * One Miniflare instance, so one workerd process, hosts four workers, each on its own loopback
 * socket (`unsafeDirectSockets`, which also skips Miniflare's entry router):
 *   gateway  the bundle from `wrangler deploy --dry-run`
 *   floor    bench/workers/floor.mjs: bare forwarding to the upstream
 *   naive    bench/workers/naive-proxy.mjs: fresh SDK client per request
 *   timer    bench/workers/timer.mjs: server-time probe over service bindings to gateway/floor
 * Sharing the process means the floor and the gateway run on the very same runtime build and
 * settings; cells run one at a time, so per-target CPU is still attributable.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Log, LogLevel, Miniflare } from "miniflare";
import { ROOT } from "./build.mjs";
import { MODERN_SERVERS, SCOPE_PRESETS } from "./plan.mjs";

/**
 * compatibility_date and compatibility_flags from wrangler.toml (the two lines we need).
 * @param {string} srcRoot
 */
export function readCompat(srcRoot) {
  const toml = readFileSync(join(srcRoot, "wrangler.toml"), "utf8");
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1];
  if (!date) throw new Error("wrangler.toml has no compatibility_date");
  return { compatibilityDate: date, compatibilityFlags: flags ? [...flags.matchAll(/"([^"]+)"/g)].map((m) => m[1]) : [] };
}

/**
 * The statements of migrations/*.sql in order (comments dropped; no triggers in our schema).
 * @param {string} srcRoot
 */
export function readMigrationStatements(srcRoot) {
  const dir = join(srcRoot, "migrations");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dir, f), "utf8")
        .split("\n")
        .filter((line) => !/^\s*--/.test(line))
        .join("\n")
        .split(/;\s*(?:\n|$)/)
        .map((s) => s.trim())
        .filter(Boolean),
    );
}

/**
 * A caller of the gateway's REST API at `base`: `call(method, path, token, body?)` resolves with
 * the parsed JSON reply and throws on a non-2xx status.
 * @param {string} base gateway origin
 */
export function apiCaller(base) {
  return async (/** @type {string} */ method, /** @type {string} */ path, /** @type {string} */ token, /** @type {unknown} */ body = undefined) => {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`api: ${method} ${path} → ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  };
}

export const LIFTED_RATE_LIMIT = { requests: 1_000_000, windowSeconds: 1 };

/** Fresh secrets for this run only. */
export function benchSecrets() {
  return { ADMIN_TOKEN: `bench-admin-${randomBytes(16).toString("hex")}`, ENCRYPTION_KEY: randomBytes(32).toString("base64url") };
}

/**
 * @param {{ srcRoot: string, scriptPath: string, naivePath: string, upstreamBase: string, persistDir: string,
 *   secrets: { ADMIN_TOKEN: string, ENCRYPTION_KEY: string }, inspectorPort?: number }} o  inspectorPort only for bench/profile.mjs
 */
export async function startMiniflare({ srcRoot, scriptPath, naivePath, upstreamBase, persistDir, secrets, inspectorPort }) {
  const compat = readCompat(srcRoot);
  const socket = () => [{ host: "127.0.0.1", port: 0 }];
  // Module names are paths relative to modulesRoot: each script's own folder, so none has '..'.
  const script = (/** @type {string} */ path) => ({ modules: true, scriptPath: path, modulesRoot: dirname(path), ...compat });
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    log: new Log(LogLevel.WARN),
    // Miniflare would otherwise download a sample `request.cf` from the internet on start.
    cf: false,
    ...(inspectorPort === undefined ? {} : { inspectorPort }),
    d1Persist: join(persistDir, "d1"),
    durableObjectsPersist: join(persistDir, "do"),
    workers: [
      {
        name: "gateway",
        ...script(scriptPath),
        d1Databases: { DB: "mcpgate-bench" },
        durableObjects: { PRESETS: { className: "PresetGateway", useSQLite: true } },
        bindings: { ...secrets, ALLOW_INSECURE_UPSTREAMS: "true", ALLOWED_ORIGINS: "" },
        unsafeDirectSockets: socket(),
      },
      { name: "floor", ...script(join(ROOT, "bench/workers/floor.mjs")), bindings: { UPSTREAM: upstreamBase }, unsafeDirectSockets: socket() },
      { name: "naive", ...script(naivePath), bindings: { UPSTREAM: upstreamBase }, unsafeDirectSockets: socket() },
      {
        name: "timer",
        ...script(join(ROOT, "bench/workers/timer.mjs")),
        serviceBindings: { GATEWAY: "gateway", FLOOR: "floor" },
        unsafeDirectSockets: socket(),
      },
    ],
  });
  await mf.ready;
  const db = await mf.getD1Database("DB", "gateway");
  await db.batch(readMigrationStatements(srcRoot).map((s) => db.prepare(s)));
  const url = async (/** @type {string} */ name) => (await mf.unsafeGetDirectURL(name)).origin;
  return { mf, urls: { gateway: await url("gateway"), floor: await url("floor"), naive: await url("naive"), timer: await url("timer") } };
}

/**
 * Seeds a user, the upstream servers and the presets through the REST API, as a user would.
 * Presets: `echo` (public, server `bench`), `list<N>` (public, server `tools<N>`),
 * `echo-private` (private, server `bench`; needs the user's API token: one D1 read per request),
 * and over the dual-era upstream servers `modern-echo` (server `modern`) and `modern-list1000`
 * (server `modern-tools1000`), both public, for the 2026-07-28 workloads. All of them attach
 * their server with `sessionScope: "shared"`, what every result before session scopes measured.
 * The scope presets `scope-shared`, `scope-caller` and `scope-session` (public, server `bench`)
 * attach it with `shared`, `per-caller` and `per-session` (SCOPE_PRESETS), and `callers` more
 * users (`bench-caller-<i>`, each with its own API token) call them as distinct signed-in callers.
 * Against an API without session scopes (`--ref` to an older commit) the field is left out:
 * every preset is then what `shared` is, and `sessionScopes` comes back false.
 * @param {string} base gateway origin
 * @param {string} adminToken
 * @param {string} upstreamBase
 * @param {number[]} catalogSizes
 * @param {number} [callers] how many signed-in callers to create for the scope rows
 */
export async function seedGateway(base, adminToken, upstreamBase, catalogSizes, callers = 0) {
  const call = apiCaller(base);
  const handle = "bench";
  const { token } = await call("POST", "/users", adminToken, { handle });
  const servers = [
    ["bench", "bench"],
    ...catalogSizes.map((n) => [`tools${n}`, `tools${n}`]),
    [MODERN_SERVERS.echo, MODERN_SERVERS.echo],
    [MODERN_SERVERS.list, MODERN_SERVERS.list],
  ];
  for (const [name, path] of servers) await call("POST", "/servers", token, { name, url: `${upstreamBase}/${path}/mcp` });
  const presets = [
    { slug: "echo", server: "bench", visibility: "public" },
    { slug: "echo-private", server: "bench", visibility: "private" },
    ...catalogSizes.map((n) => ({ slug: `list${n}`, server: `tools${n}`, visibility: "public" })),
    { slug: "modern-echo", server: MODERN_SERVERS.echo, visibility: "public" },
    { slug: `modern-list${MODERN_SERVERS.listSize}`, server: MODERN_SERVERS.list, visibility: "public" },
    ...Object.entries(SCOPE_PRESETS).map(([scope, slug]) => ({ slug, server: "bench", visibility: "public", scope })),
  ];
  // Presets have a per-caller tools/call rate limit (default 100 per 60 s) once the API knows
  // `rateLimit`; lift it so the benchmark measures the path, not the limiter's refusals.
  let rateLimitLifted = true;
  let sessionScopes = true;
  for (const p of presets) {
    const body = { slug: p.slug, name: `bench ${p.slug}`, visibility: p.visibility };
    try {
      await call("POST", "/presets", token, rateLimitLifted ? { ...body, rateLimit: LIFTED_RATE_LIMIT } : body);
    } catch (e) {
      if (!rateLimitLifted || !/rateLimit|unrecognized/i.test(String(e))) throw e;
      rateLimitLifted = false; // an API without rate limits: nothing to lift
      await call("POST", "/presets", token, body);
    }
    const attach = { tools: null };
    const scope = "scope" in p ? p.scope : "shared";
    if (sessionScopes) {
      try {
        await call("PUT", `/presets/${p.slug}/servers/${p.server}`, token, { ...attach, sessionScope: scope });
        continue;
      } catch (e) {
        if (!/sessionScope|unrecognized/i.test(String(e))) throw e;
        sessionScopes = false; // an API without session scopes: every upstream session is shared
      }
    }
    await call("PUT", `/presets/${p.slug}/servers/${p.server}`, token, attach);
  }
  /** @type {string[]} */
  const callerTokens = [];
  for (let i = 1; i <= callers; i++) callerTokens.push((await call("POST", "/users", adminToken, { handle: `bench-caller-${i}` })).token);
  return { handle, token, callerTokens, rateLimitLifted, sessionScopes };
}
