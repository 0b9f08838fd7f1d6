/**
 * Turns conformance suite runs into the markdown the harness prints and commits
 * (docs/conformance.md): one row per scenario, one column per (protocol revision, target), then
 * totals and the failing checks' own messages.
 */
import { PENDING_SCENARIOS } from "./conformance-suite.mjs";

/**
 * @typedef {import('./conformance-suite.mjs').ScenarioResult} ScenarioResult
 * @typedef {import('./conformance-suite.mjs').SuiteRun} SuiteRun
 * @typedef {{ version: string, target: 'direct' | 'via preset', run: SuiteRun }} Column
 */

/**
 * The result table. A cell is `✓ passed/total` or `✗ passed/total` (total: SUCCESS + FAILURE
 * checks; `⚠n` adds warnings), `○ 0/0` when the scenario only logged informational checks, `–`
 * where the scenario does not apply at that revision.
 * @param {Column[]} columns
 * @returns {string}
 */
export function resultTable(columns) {
  /** @type {string[]} */
  const order = [];
  for (const c of columns) for (const s of c.run.scenarios) if (!order.includes(s.scenario)) order.push(s.scenario);

  const header = `| scenario | ${columns.map((c) => `${c.version} ${c.target}`).join(" | ")} |`;
  const rule = `| --- | ${columns.map(() => "---").join(" | ")} |`;
  const rows = order.map((name) => {
    const label = PENDING_SCENARIOS.has(name) ? `${name} (pending)` : name;
    return `| ${label} | ${columns.map((c) => cell(c.run.scenarios.find((s) => s.scenario === name))).join(" | ")} |`;
  });
  const totalChecks = `| **checks passed** | ${columns.map((c) => checkTotal(c.run)).join(" | ")} |`;
  const totalScenarios = `| **scenarios passed** | ${columns.map((c) => scenarioTotal(c.run)).join(" | ")} |`;
  return [header, rule, ...rows, totalChecks, totalScenarios].join("\n");
}

/** @param {ScenarioResult | undefined} s */
function cell(s) {
  if (!s) return "–";
  if (s.outcome === "not_run") return "not run (time limit)";
  const total = s.passed + s.failed;
  const mark = total === 0 && s.outcome === "ran" ? "○" : s.failed === 0 && s.outcome === "ran" ? "✓" : "✗";
  const warn = s.warnings > 0 ? ` ⚠${s.warnings}` : "";
  return `${mark} ${s.passed}/${total}${warn}${s.outcome === "crashed" ? " (crashed)" : ""}`;
}

/** @param {SuiteRun} run */
function checkTotal(run) {
  const passed = run.scenarios.reduce((n, s) => n + s.passed, 0);
  const total = run.scenarios.reduce((n, s) => n + s.passed + s.failed, 0);
  return `${passed}/${total}${run.timedOut ? " (cut off)" : ""}`;
}

/** @param {SuiteRun} run */
function scenarioTotal(run) {
  const scored = run.scenarios.filter((s) => s.outcome !== "ran" || s.passed + s.failed > 0);
  const ok = scored.filter((s) => s.outcome === "ran" && s.failed === 0).length;
  const infoOnly = run.scenarios.length - scored.length;
  return `${ok}/${scored.length}${infoOnly ? ` (+${infoOnly} info only)` : ""}`;
}

/**
 * Every failing (or warning) check of every column, with the suite's own message, grouped by
 * column then scenario.
 * @param {Column[]} columns
 * @returns {string}
 */
export function failureNotes(columns) {
  const out = [];
  for (const c of columns) {
    const bad = c.run.scenarios.filter((s) => s.failed > 0 || s.warnings > 0 || s.outcome !== "ran" || s.passed === 0);
    if (bad.length === 0) continue;
    out.push(`#### ${c.version} ${c.target}`, "");
    for (const s of bad) {
      if (s.outcome === "not_run") {
        out.push(`- **${s.scenario}**: not run (the run hit its time limit first)`);
        continue;
      }
      if (s.outcome === "crashed") {
        out.push(`- **${s.scenario}**: the scenario crashed (${s.passed} passed, ${s.failed} failed per the suite's summary)`);
        continue;
      }
      if (s.passed + s.failed + s.warnings === 0) {
        const last = s.checks.at(-1);
        const why = last ? oneLine(last.details?.message ?? last.errorMessage ?? last.description ?? "") : "no checks at all";
        out.push(`- **${s.scenario}**: nothing scored, only informational checks${last ? ` (last: \`${last.id}\` ${why})` : ""}`);
        continue;
      }
      for (const check of s.checks.filter((k) => k.status === "FAILURE" || k.status === "WARNING")) {
        const why = oneLine(check.errorMessage ?? check.description ?? "");
        out.push(`- **${s.scenario}** \`${check.id}\` ${check.status === "WARNING" ? "(warning) " : ""}${why}`);
      }
    }
    out.push("");
  }
  return out.length ? out.join("\n") : "No failing checks.\n";
}

/** @param {string} text */
function oneLine(text) {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 400 ? `${flat.slice(0, 400)}…` : flat;
}

/**
 * What each server scenario asks of the server under test, in gateway terms: for a scenario that
 * fails through the preset, the feature the gateway would need. Written from the suite's scenario
 * requirements (0.2.0-alpha.12).
 * @type {Record<string, string>}
 */
const EXERCISES = {
  "server-initialize": "initialize handshake; an Mcp-Session-Id of visible ASCII only",
  "server-session-lifecycle": "notifications/initialized accepted (2xx); DELETE with the session id ends the session; 404 for that id afterwards",
  "logging-set-level": "the `logging` capability and `logging/setLevel` answering `{}`",
  ping: "`ping` answering `{}`",
  "completion-complete": "the `completions` capability and `completion/complete` for a prompt argument, routed to the upstream that owns the prompt",
  "tools-list": "`tools/list` with name, description and inputSchema per tool; names of 1-64 characters of `[A-Za-z0-9_./-]` (SEP-986)",
  "tools-call-simple-text": "`tools/call` by the upstream tool name, text content passed through",
  "tools-call-image": "`tools/call`, image content passed through",
  "tools-call-audio": "`tools/call`, audio content passed through",
  "tools-call-embedded-resource": "`tools/call`, embedded resource content passed through",
  "tools-call-mixed-content": "`tools/call`, mixed text, image and resource content passed through",
  "tools-call-error": "`tools/call`, an `isError: true` result passed through",
  "tools-call-with-logging":
    "`logging/setLevel` (the scenario sets `debug` first), then the upstream's `notifications/message` relayed to the client on the tools/call reply stream (SSE)",
  "tools-call-with-progress":
    "`_meta.progressToken` forwarded upstream, and the upstream's `notifications/progress` (same token) relayed on the tools/call reply stream (SSE)",
  "tools-call-sampling":
    "the client's `sampling` capability declared upstream; `sampling/createMessage` relayed upstream → client on the call's SSE stream and the client's reply (a POSTed JSON-RPC response) relayed back",
  "tools-call-elicitation":
    "the client's `elicitation` capability declared upstream; `elicitation/create` relayed upstream → client on the call's SSE stream and the client's reply relayed back",
  "elicitation-sep1034-defaults": "as tools-call-elicitation, with `default` values in the requested schema passed through unchanged (SEP-1034)",
  "elicitation-sep1330-enums":
    "as tools-call-elicitation, with the five enum schema shapes (enum, oneOf const/title, enumNames, array items enum/anyOf) passed through unchanged (SEP-1330)",
  "json-schema-2020-12": "tool inputSchema passed through unchanged: $schema, $defs, $anchor, additionalProperties, allOf/anyOf, if/then/else",
  "server-sse-polling":
    "SSE replies to POST with a priming event (id, empty data) and `retry`; closing the stream mid-call and resuming it on GET with Last-Event-ID (SEP-1699)",
  "server-sse-multiple-streams": "several concurrent POSTs in one session, each answered (JSON or its own SSE stream)",
  "resources-list": "the `resources` capability and `resources/list` (uri, name per resource)",
  "resources-read-text": "`resources/read` of a text resource, routed to the upstream that owns the URI",
  "resources-read-binary": "`resources/read` of a blob resource",
  "resources-templates-read": "`resources/read` of a URI matching an upstream's resource template (test://template/{id}/data)",
  "resources-subscribe": "`resources/subscribe` answering `{}` (the capability `resources.subscribe`)",
  "resources-unsubscribe": "`resources/subscribe` then `resources/unsubscribe`, each answering `{}`",
  "prompts-list": "the `prompts` capability and `prompts/list` (name, description per prompt)",
  "prompts-get-simple": "`prompts/get` routed to the upstream that owns the prompt",
  "prompts-get-with-args": "`prompts/get` with arguments passed through",
  "prompts-get-embedded-resource": "`prompts/get` returning an embedded resource message",
  "prompts-get-with-image": "`prompts/get` returning an image message",
  "dns-rebinding-protection": "a request whose Host and Origin are `evil.example.com` refused with 4xx; loopback Host and Origin accepted",
};

/**
 * For every scenario that fails (or scores nothing) through the preset in some column: what it
 * exercises.
 * @param {Column[]} columns
 * @returns {string}
 */
export function featureNotes(columns) {
  /** @type {Map<string, string[]>} */
  const failing = new Map();
  for (const c of columns) {
    if (c.target !== "via preset") continue;
    for (const s of c.run.scenarios) {
      if (s.failed > 0 || s.outcome !== "ran" || s.passed === 0) failing.set(s.scenario, [...(failing.get(s.scenario) ?? []), c.version]);
    }
  }
  if (failing.size === 0) return "Every scenario passes through the preset.\n";
  return `${[...failing].map(([name, vs]) => `- **${name}** (${vs.join(", ")}): ${EXERCISES[name] ?? "see the suite's scenario description"}`).join("\n")}\n`;
}

/**
 * Why a scenario may score fewer checks through the preset than directly without failing any:
 * the suite scores some checks only for one of the answers the spec allows.
 * @type {Record<string, string>}
 */
const SCORING_DIFFERENCES = {
  "server-sse-multiple-streams":
    "the preset answers `tools/list` with plain JSON (the spec lets the server choose JSON or SSE per POST; JSON is the faster path and needs no stream), and the suite scores `server-sse-streams-functional` only for SSE replies: for JSON ones it logs information instead. Nothing fails.",
};

/**
 * Scenarios where the preset passes fewer checks than the upstream does directly at the same
 * revision, with the reason where it is known.
 * @param {Column[]} columns
 * @returns {string}
 */
export function differenceNotes(columns) {
  const out = [];
  for (const preset of columns.filter((c) => c.target === "via preset")) {
    const direct = columns.find((c) => c.target === "direct" && c.version === preset.version);
    if (!direct) continue;
    for (const s of preset.run.scenarios) {
      const d = direct.run.scenarios.find((x) => x.scenario === s.scenario);
      if (!d || s.passed >= d.passed) continue;
      const why = s.failed === 0 ? (SCORING_DIFFERENCES[s.scenario] ?? "no check failed; fewer were scored") : "checks fail (see below)";
      out.push(`- **${s.scenario}** (${preset.version}): ${s.passed}/${s.passed + s.failed} via the preset, ${d.passed}/${d.passed + d.failed} direct: ${why}`);
    }
  }
  return out.length ? `${out.join("\n")}\n` : "None: the preset passes as many checks as the upstream in every scenario.\n";
}
