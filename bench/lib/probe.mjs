/**
 * Server time of the gateway, measured inside workerd by bench/workers/timer.mjs: sequential
 * requests through the timer worker, which reports how long the target worker (and, for the
 * gateway, its Durable Object) took, without the HTTP hop to the driver. workerd's clock has
 * whole-millisecond steps; request start times fall at random points within a millisecond, so
 * the mean over many samples is an unbiased estimate even though each sample is 0, 1, 2... ms.
 */
import { Client } from "undici";
import { callTool, listAll, McpSession } from "./driver.mjs";
import { mean } from "./stats.mjs";

/**
 * @param {{ timer: string, handle: string, samples: number, catalogSizes: number[] }} o
 * @returns {Promise<Record<string, { meanMs: number, n: number, pagesPerOp?: number }>>}
 */
export async function probeServerTime({ timer, handle, samples, catalogSizes }) {
  const conn = new Client(timer, { pipelining: 1, keepAliveTimeout: 60_000 });
  /** @type {Record<string, { meanMs: number, n: number, pagesPerOp?: number }>} */
  const out = {};
  /** @param {string} name @param {string} path @param {(s: McpSession) => Promise<{ ms: number, pages?: number }>} once */
  const measure = async (name, path, once) => {
    const s = new McpSession(conn, path, {});
    await s.initialize();
    for (let i = 0; i < Math.min(20, samples); i++) await once(s); // warm
    const ms = [];
    let pages = 0;
    for (let i = 0; i < samples; i++) {
      const r = await once(s);
      ms.push(r.ms);
      pages += r.pages ?? 1;
    }
    await s.end();
    out[name] = { meanMs: mean(ms), n: ms.length, pagesPerOp: pages / ms.length };
  };
  try {
    for (const n of catalogSizes) {
      await measure(`gateway list-${n}`, `/gateway/mcp/${handle}/list${n}`, async (s) => {
        const r = await listAll(s);
        if (r.tools !== n) throw new Error(`probe: ${r.tools} tools, expected ${n}`);
        return { ms: r.serverMs, pages: r.pages };
      });
    }
    await measure("gateway ping (worker + DO, no upstream)", `/gateway/mcp/${handle}/echo`, async (s) => {
      await s.rpc("ping");
      return { ms: s.serverTimingMs ?? NaN };
    });
    await measure("gateway tools/call echo", `/gateway/mcp/${handle}/echo`, async (s) => {
      await callTool(s, "bench__echo", { text: "hello" });
      return { ms: s.serverTimingMs ?? NaN };
    });
    await measure("floor tools/call echo", "/floor/bench/mcp", async (s) => {
      await callTool(s, "echo", { text: "hello" });
      return { ms: s.serverTimingMs ?? NaN };
    });
  } finally {
    await conn.close();
  }
  return out;
}
