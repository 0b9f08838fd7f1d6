/**
 * CPU time of processes from /proc (Linux only): utime + stime of /proc/<pid>/stat, which counts
 * every thread of the process. Ticks are 1/100 s on Linux (USER_HZ), so CPU per request is only
 * meaningful over cells of a second or more at saturation.
 */
import { readdirSync, readFileSync } from "node:fs";

const USER_HZ = 100;

/**
 * @param {number} pid
 * @returns {{ pid: number, ppid: number, comm: string, cpuMs: number } | null} null once the process is gone
 */
export function procStat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // comm is in parentheses and may contain spaces: split after the last ')'.
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  return { pid, ppid: Number(fields[1]), comm, cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ };
}

/** Resident set size of a process in bytes (VmRSS of /proc/<pid>/status), null once it is gone. @param {number} pid */
export function rssBytes(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Every live process that descends from `root` (not `root` itself). @param {number} root */
export function descendants(root) {
  /** @type {Map<number, number[]>} */
  const children = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(st.pid);
    children.set(st.ppid, list);
  }
  const out = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length) {
    const pid = /** @type {number} */ (queue.shift());
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Descendants of `root` whose command name is `comm` (e.g. the workerd Miniflare spawned). */
export function descendantsNamed(/** @type {number} */ root, /** @type {string} */ comm) {
  return descendants(root).filter((pid) => procStat(pid)?.comm === comm);
}

/**
 * A named group of processes whose CPU is summed, e.g. `{ upstream: [pid] }`.
 * @param {Record<string, number[]>} groups
 * @returns {Record<string, number>} CPU ms so far per group
 */
export function sampleCpu(groups) {
  /** @type {Record<string, number>} */
  const out = {};
  for (const [name, pids] of Object.entries(groups)) {
    out[name] = pids.reduce((sum, pid) => sum + (procStat(pid)?.cpuMs ?? 0), 0);
  }
  return out;
}

/** @param {Record<string, number>} before @param {Record<string, number>} after */
export function cpuDelta(before, after) {
  return Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)]));
}
