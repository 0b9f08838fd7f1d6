/**
 * `npm run bench:console [-- --reps N]`: page weight and server time of every console page, as
 * `npm run dev` serves them (`wrangler dev` from the checkout on loopback, scratch state, the test
 * fixture upstreams).
 *
 * Seeds one owner with three presets over two fixture upstreams (one of them a 250-tool catalog),
 * makes a few tool calls through each with the SDK client so the dashboards have data, signs in
 * like a browser (the sign-in form's CSRF token and cookie), then GETs each page `reps` times
 * after two warm-ups. Prints a markdown table: HTML bytes, gzipped bytes, median and p90 server
 * time (time to the whole body over loopback). Everything it starts stops on the way out.
 */

import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startGateway } from "../test/e2e/gateway.mjs";
import { startFixtureProcess } from "../test/fixtures/fixture-process.mjs";

const { values: opts } = parseArgs({ options: { reps: { type: "string", default: "25" } } });
const REPS = Math.max(1, Number(opts.reps));
const ADMIN = "bench-admin-token-0123456789abcdef";
process.env.WRANGLER_SEND_METRICS = "false";

const fixtures = await startFixtureProcess();
let gateway;
try {
  gateway = await startGateway({ adminToken: ADMIN });
  const base = gateway.url;
  const api = async (method, path, token, body) => {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => null);
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };

  const owner = await api("POST", "/users", ADMIN, { handle: `pages-${Date.now().toString(36)}` });
  const token = owner.token;
  const up = fixtures.upstreamBase;
  await api("POST", "/servers", token, { name: "lib", url: `${up}/conformance/mcp` });
  await api("POST", "/servers", token, { name: "many", url: `${up}/many/mcp` });
  for (const [slug, visibility] of [
    ["tools", "public"],
    ["team", "invite_only"],
    ["solo", "private"],
  ]) {
    await api("POST", "/presets", token, { slug, name: slug, visibility, auditCalls: true });
    await api("PUT", `/presets/${slug}/servers/lib`, token, {});
  }
  await api("PUT", "/presets/tools/servers/many", token, { tools: null });
  for (const slug of ["tools", "team", "solo"]) {
    const client = new Client({ name: "pages-bench", version: "1" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp/${owner.user.handle}/${slug}`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    const { tools } = await client.listTools();
    for (let i = 0; i < 20; i++) await client.callTool({ name: tools[i % Math.min(3, tools.length)].name, arguments: {} }).catch(() => {});
    await client.close();
  }

  // Sign in as a browser does: the form's CSRF token is bound to a pre-sign-in cookie.
  const jar = new Map();
  const keep = (res) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair.indexOf("=");
      jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const form = await fetch(`${base}/console/signin`);
  keep(form);
  const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  const signedIn = await fetch(`${base}/console/signin`, {
    method: "POST",
    redirect: "manual",
    headers: { origin: new URL(base).origin, cookie: cookie(), "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ csrf: csrf ?? "", token }),
  });
  keep(signedIn);
  if (signedIn.status !== 303) throw new Error(`sign-in: ${signedIn.status}`);

  const pages = [
    ["sign-in (signed out)", "/console/signin", false],
    ["presets list (3 presets)", "/console"],
    ["new preset", "/console/presets/new"],
    ["a preset", "/console/presets/tools"],
    ["curation, 250 tools", "/console/presets/tools/servers/many"],
    ["curation, tools + prompts + resources", "/console/presets/tools/servers/lib"],
    ["settings", "/console/presets/tools/settings"],
    ["dashboard 24h", "/console/presets/tools/watch"],
    ["dashboard 30d", "/console/presets/tools/watch?window=30d"],
    ["audit trail", "/console/presets/tools/events"],
    ["call log", "/console/presets/tools/calls"],
    ["drift review", "/console/presets/tools/drift"],
    ["servers", "/console/servers"],
    ["server status", "/console/servers/lib/status"],
    ["tokens", "/console/tokens"],
    ["import", "/console/import"],
    ["public page", `/console/p/${owner.user.handle}/tools`],
  ];
  const rows = [];
  for (const [label, path, auth = true] of pages) {
    const times = [];
    let html = "";
    let status = 0;
    for (let i = 0; i < REPS + 2; i++) {
      const started = performance.now();
      const res = await fetch(`${base}${path}`, { headers: auth ? { cookie: cookie() } : {}, redirect: "manual" });
      html = await res.text();
      status = res.status;
      if (i >= 2) times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
    rows.push({ label, path, status, bytes: Buffer.byteLength(html), gzip: gzipSync(html).length, p50: q(0.5), p90: q(0.9) });
  }
  const assets = await fetch(`${base}/console`, { headers: { cookie: cookie() } }).then((r) => r.text());
  const assetPaths = [...assets.matchAll(/(?:href|src)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]);
  console.log(`\n| page | status | HTML bytes | gzip | median ms | p90 ms |\n| --- | --: | --: | --: | --: | --: |`);
  for (const r of rows)
    console.log(
      `| ${r.label} (\`${r.path}\`) | ${r.status} | ${r.bytes.toLocaleString("en")} | ${r.gzip.toLocaleString("en")} | ${r.p50.toFixed(1)} | ${r.p90.toFixed(1)} |`,
    );
  for (const path of assetPaths) {
    const body = await fetch(`${base}${path}`).then((r) => r.text());
    console.log(
      `| asset \`${path}\` (cached a day) | 200 | ${Buffer.byteLength(body).toLocaleString("en")} | ${gzipSync(body).length.toLocaleString("en")} | | |`,
    );
  }
  console.log(`\n${REPS} requests per page after 2 warm-ups, wrangler dev on loopback.`);
} finally {
  await Promise.allSettled([gateway?.stop(), fixtures.stop()]);
}
