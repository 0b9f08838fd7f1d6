/**
 * `.dev.vars` is wrangler's local secrets file (dotenv syntax, gitignored). A fresh checkout has
 * only `.dev.vars.example`; we derive `.dev.vars` from it so every local setup gets its own
 * random secrets instead of a shared, committed placeholder.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const PLACEHOLDER = /^replace-me\b.*$/;

/**
 * Creates `devVarsPath` from `examplePath` when it is missing, with every `replace-me...` value
 * replaced by 32 random bytes in base64url.
 * @param {string} devVarsPath
 * @param {string} examplePath
 * @returns {{ created: boolean, generated: string[] }} the keys that got fresh random values
 */
export function ensureDevVars(devVarsPath, examplePath) {
  if (existsSync(devVarsPath)) return { created: false, generated: [] };
  /** @type {string[]} */
  const generated = [];
  const lines = readFileSync(examplePath, "utf8")
    .split("\n")
    .map((line) => {
      const entry = parseLine(line);
      if (!entry || !PLACEHOLDER.test(entry.value)) return line;
      generated.push(entry.key);
      return `${entry.key}=${randomBytes(32).toString("base64url")}`;
    });
  // 'wx' so two concurrent runs cannot overwrite each other's secrets.
  writeFileSync(devVarsPath, lines.join("\n"), { mode: 0o600, flag: "wx" });
  return { created: true, generated };
}

/**
 * Reads the KEY=VALUE pairs of a dotenv-style file (the subset wrangler's files use: comments,
 * blank lines, optional quotes).
 * @param {string} path
 * @returns {Record<string, string>}
 */
export function readDevVars(path) {
  /** @type {Record<string, string>} */
  const vars = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const entry = parseLine(line);
    if (entry) vars[entry.key] = entry.value;
  }
  return vars;
}

/** @param {string} line @returns {{ key: string, value: string } | undefined} */
function parseLine(line) {
  const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
  if (!match) return undefined;
  let value = match[2];
  if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
  return { key: match[1], value };
}
