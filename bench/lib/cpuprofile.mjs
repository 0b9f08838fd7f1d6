/**
 * Reads a V8 CPU profile (as DevTools' Profiler.stop returns it) of the gateway's isolate and
 * attributes its samples to source: the bundle's source map turns each frame of the bundle into
 * its original file (src/..., node_modules/<package>/...), so the summary says whether the time
 * is ours, the SDK's, zod's, hono's or the runtime's. Pure apart from reading the map.
 */
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";

/**
 * @typedef {{ id: number, callFrame: { functionName: string, url: string, lineNumber: number, columnNumber: number }, children?: number[] }} ProfileNode
 * @typedef {{ nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }} Profile
 */

/** The package or src/ file a bundled source path belongs to. @param {string} source */
export function areaOf(source) {
  const nm = source.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = source.slice(nm + "node_modules/".length).split("/");
    return rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const src = source.indexOf("src/");
  return src >= 0 ? source.slice(src) : source;
}

/**
 * Self time by function and by area, in ms, plus the share of idle and runtime ((program), GC).
 * @param {Profile} profile @param {string | null} mapPath source map of the bundle
 * @param {(url: string) => boolean} isBundle which frame URLs belong to the bundle
 */
export function summarizeProfile(profile, mapPath, isBundle) {
  const map = mapPath ? new SourceMap(JSON.parse(readFileSync(mapPath, "utf8"))) : null;
  /** @type {Map<number, ProfileNode>} */
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  /** @type {Map<number, number>} */
  const selfUs = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  /** @type {Map<number, number>} */
  const parentOf = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  /** @type {Map<number, { area: string, where: string, ours: boolean }>} */
  const frames = new Map();
  const frameOf = (/** @type {number} */ id) => {
    let f = frames.get(id);
    if (f) return f;
    const cf = /** @type {ProfileNode} */ (byId.get(id)).callFrame;
    if (!cf.url) {
      const name = cf.functionName || "(anonymous)";
      f = { area: cf.functionName.startsWith("(") ? cf.functionName : "(runtime built-ins)", where: name, ours: false };
    } else if (isBundle(cf.url) && map) {
      const entry = /** @type {any} */ (map.findEntry(cf.lineNumber, cf.columnNumber));
      const source = entry?.originalSource ?? "(unmapped)";
      const area = areaOf(source);
      const file = source.includes("node_modules/") ? source.replace(/^.*node_modules\//, "") : area;
      f = { area, where: `${cf.functionName || "(anonymous)"} ${file}:${(entry?.originalLine ?? 0) + 1}`, ours: area.startsWith("src/") };
    } else {
      f = { area: cf.url, where: `${cf.functionName || "(anonymous)"} ${cf.url}:${cf.lineNumber + 1}`, ours: false };
    }
    frames.set(id, f);
    return f;
  };
  /** @type {Map<string, number>} */
  const fns = new Map();
  /** @type {Map<string, number>} */
  const areas = new Map();
  /** Inclusive time of our own functions: each sample counted once per distinct function on its stack. */
  /** @type {Map<string, number>} */
  const inclusive = new Map();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const f = frameOf(id);
    totalUs += us;
    areas.set(f.area, (areas.get(f.area) ?? 0) + us);
    fns.set(f.where, (fns.get(f.where) ?? 0) + us);
    const seen = new Set();
    for (let at = /** @type {number | undefined} */ (id); at !== undefined; at = parentOf.get(at)) {
      const g = frameOf(at);
      if (g.ours && !seen.has(g.where)) {
        seen.add(g.where);
        inclusive.set(g.where, (inclusive.get(g.where) ?? 0) + us);
      }
    }
  }
  const idleUs = areas.get("(idle)") ?? 0;
  const busyUs = totalUs - idleUs;
  const rank = (/** @type {Map<string, number>} */ m, n = 25) =>
    [...m]
      .filter(([k]) => k !== "(idle)")
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, shareOfBusy: us / busyUs }));
  return {
    wallMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    areas: rank(areas, 40),
    functions: rank(fns, 30),
    ourInclusive: rank(inclusive, 30),
  };
}
