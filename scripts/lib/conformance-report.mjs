/**
 * Turns conformance suite runs into the markdown the harness prints and commits
 * (docs/conformance.md): one row per scenario, one column per (protocol revision, target), then
 * totals and the failing checks' own messages.
 */
import { PENDING_SCENARIOS } from "./conformance-suite.mjs";

/**
 * @typedef {import('./conformance-suite.mjs').ScenarioResult} ScenarioResult
 * @typedef {import('./conformance-suite.mjs').SuiteRun} SuiteRun
 * @typedef {import('./protocol-pin.mjs').Exchange} Exchange
 * @typedef {{ version: string, target: 'direct' | 'via preset', run: SuiteRun, exchanges?: Map<string, Exchange[]>, upstreamExchanges?: Map<string, Exchange[]> }} Column
 *   exchanges: what a recording proxy in front of the target saw, per scenario (the 2026-07-28 columns);
 *   upstreamExchanges: what the gateway sent the upstream meanwhile (through the preset)
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
    if (c.target === "via preset" && c.exchanges) {
      out.push(`${bad.length} scenarios: see "Failing checks through the preset, with the wire" below.`, "");
      continue;
    }
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
  "server-stateless":
    "2026-07-28 per request (SEP-2575): `server/discover` (supportedVersions, capabilities, serverInfo in `_meta`); a request without `_meta` or its protocolVersion/clientCapabilities → 400 + -32602; header/`_meta` version mismatch → 400 + -32020; unknown version → 400 + -32022 with `data.supported`/`data.requested`; `test_missing_capability` without sampling → 400 + -32021; removed methods (initialize, ping, logging/setLevel, resources/subscribe) and unknown ones → 404 + -32601; error ids echo the request's; no logs without `_meta` logLevel; `subscriptions/listen` acknowledged first, list_changed fan-out filtered",
  caching:
    "`ttlMs` and `cacheScope` (SEP-2549) on server/discover, tools/list, prompts/list, resources/list, resources/templates/list and resources/read results",
  "sep-2164-resource-not-found": "`resources/read` of an unknown URI answers JSON-RPC -32602 with the URI in `error.data.uri` (SEP-2164), not empty contents",
  "input-required-result-basic-elicitation":
    "`tools/call` whose upstream answers `resultType: input_required` with an `elicitation/create` input request, relayed to the client; the retry's `inputResponses` relayed back (SEP-2322)",
  "input-required-result-basic-sampling": "as basic-elicitation with a `sampling/createMessage` input request",
  "input-required-result-basic-list-roots": "as basic-elicitation with a `roots/list` input request",
  "input-required-result-request-state": "`requestState` of an input_required result relayed byte for byte both ways",
  "input-required-result-multiple-input-requests": "several input requests (elicitation, sampling, roots) in one input_required result, and their answers",
  "input-required-result-multi-round": "three rounds of input_required with a requestState that changes each round",
  "input-required-result-missing-input-response": "a retry with the wrong inputResponses key gets input_required again (SHOULD)",
  "input-required-result-non-tool-request": "input_required on `prompts/get` (`test_input_required_result_prompt`) relayed like on tools/call",
  "input-required-result-result-type": "`resultType` present on input_required and complete results",
  "input-required-result-unsupported-methods": "no input_required on tools/list, prompts/list, resources/list",
  "input-required-result-tampered-state": "a tampered `requestState` relayed unchanged so the upstream refuses it (-32602)",
  "input-required-result-capability-check": "the client's `_meta` clientCapabilities relayed so the upstream asks only for what it declared",
  "input-required-result-ignore-extra-params": "extra fields in inputResponses ignored (SHOULD)",
  "input-required-result-validate-input": "invalid inputResponses answered with an error or a fresh input_required (SHOULD)",
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
      const why =
        s.failed > 0
          ? "checks fail (see below)"
          : s.warnings > 0
            ? "no check failed, but a SHOULD-level check warns instead of passing (see below)"
            : (SCORING_DIFFERENCES[s.scenario] ?? "no check failed; fewer were scored");
      out.push(`- **${s.scenario}** (${preset.version}): ${s.passed}/${s.passed + s.failed} via the preset, ${d.passed}/${d.passed + d.failed} direct: ${why}`);
    }
  }
  return out.length ? `${out.join("\n")}\n` : "None: the preset passes as many checks as the upstream in every scenario.\n";
}

/**
 * The JSON-RPC id of the request behind a check of server-stateless, whose checks carry no request
 * (the scenario uses fixed ids; from its source, 0.2.0-alpha.12).
 * @type {Record<string, number>}
 */
const STATELESS_CHECK_REQUEST_IDS = {
  "sep-2575-request-meta-client-info-optional": 105,
  "sep-2575-server-implements-discover": 201,
  "sep-2575-server-identifies-in-result-meta": 201,
  "sep-2575-server-declares-prompts-in-discover": 203,
  "sep-2575-discover-capabilities-match-handlers": 202,
  "sep-2575-server-unsupported-version-error": 301,
  "sep-2575-http-server-unsupported-version-400": 301,
  "sep-2575-http-server-header-mismatch-400": 302,
  "sep-2575-server-rejects-undeclared-capability": 401,
  "sep-2575-missing-capability-http-400": 401,
  "sep-2575-http-server-method-not-found-404": 601,
};

/**
 * The exchange behind a failing check: the request whose JSON-RPC id the check names (in its
 * details, its message, or STATELESS_CHECK_REQUEST_IDS).
 * @param {import('./conformance-suite.mjs').Check} check @param {Exchange[]} exchanges
 * @returns {Exchange | undefined}
 */
function exchangeOf(check, exchanges) {
  const fromDetails = /"id":\s*(-?\d+|"(?:[^"\\]|\\.)*")/.exec(JSON.stringify(check.details ?? {}))?.[1];
  const fromMessage = /\bid (\d+)\b/.exec(check.errorMessage ?? "")?.[1];
  const known = STATELESS_CHECK_REQUEST_IDS[check.id];
  const wanted = fromDetails ?? fromMessage ?? (known === undefined ? undefined : String(known));
  if (wanted === undefined) return undefined;
  const key = wanted.startsWith('"') ? wanted : JSON.stringify(Number(wanted));
  return exchanges.find((e) => e.body !== undefined && JSON.stringify(requestId(e.body)) === key);
}

/** @param {string} body @returns {unknown} the JSON-RPC id of a recorded request body */
function requestId(body) {
  try {
    return JSON.parse(body)?.id;
  } catch {
    return undefined;
  }
}

/**
 * For the columns that carry recorded exchanges (2026-07-28), through the preset: every failing or
 * warning check with the suite's details, and the first exchange of its scenario answered with an
 * error. Empty when no such column has failures.
 * @param {Column[]} columns
 * @returns {string}
 */
export function wireNotes(columns) {
  const out = [];
  for (const c of columns) {
    if (c.target !== "via preset" || !c.exchanges) continue;
    const bad = c.run.scenarios.filter((s) => s.failed > 0 || s.warnings > 0 || s.outcome !== "ran");
    if (bad.length === 0) continue;
    out.push(`#### ${c.version} ${c.target}`, "");
    for (const s of bad) {
      out.push(`- **${s.scenario}**${s.outcome === "ran" ? "" : ` (${s.outcome === "crashed" ? "crashed" : "not run"})`}`);
      const exchanges = c.exchanges.get(s.scenario) ?? [];
      for (const check of s.checks.filter((k) => k.status === "FAILURE" || k.status === "WARNING")) {
        // wire-schema-valid's message already quotes the offending message.
        const details =
          check.id !== "wire-schema-valid" && check.details && Object.keys(check.details).length
            ? ` — details: \`${cut(JSON.stringify(check.details), 300)}\``
            : "";
        out.push(`  - \`${check.id}\`${check.status === "WARNING" ? " (warning)" : ""}: ${oneLine(check.errorMessage ?? check.description ?? "")}${details}`);
        const behind = exchangeOf(check, exchanges);
        if (behind) out.push(`    - its request: ${formatExchange(behind)}`);
      }
      // Only warnings: the scenario's error replies are its deliberate probes, not the cause.
      const errors = s.failed > 0 || s.outcome !== "ran" ? exchanges.filter(isErrorExchange) : [];
      if (s.failed === 0 && s.outcome === "ran") out.push(`  - ${exchanges.length} requests recorded`);
      else if (errors[0])
        out.push(`  - first error on the wire (${errors.length} of ${exchanges.length} requests answered with an error): ${formatExchange(errors[0])}`);
      else out.push(`  - no error on the wire (${exchanges.length} requests recorded)`);
      const upstream = c.upstreamExchanges?.get(s.scenario);
      if (upstream) {
        // A stateless upstream refusing the gateway's standalone GET stream (405) is expected; show the first POST error.
        const upstreamErrors = s.failed > 0 || s.outcome !== "ran" ? upstream.filter((e) => isErrorExchange(e) && e.method !== "GET") : [];
        out.push(
          `  - upstream side (gateway → upstream): ${upstream.length ? upstream.map((e) => `${e.rpcMethod ?? e.method} ${e.status ?? "?"}`).join(", ") : "nothing sent"}${
            upstreamErrors[0] ? `; first error: ${formatExchange(upstreamErrors[0])}` : ""
          }`,
        );
      }
    }
    out.push("");
  }
  return out.join("\n");
}

/** @param {Exchange} e */
function isErrorExchange(e) {
  return e.error !== undefined || (e.status ?? 0) >= 400 || /"error"\s*:\s*\{/.test(e.reply);
}

/** @param {Exchange} e */
function formatExchange(e) {
  const headers = Object.entries(e.headers)
    .filter(([k]) => k.startsWith("mcp-") || k === "origin" || k === "host")
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ");
  const request = `\`${e.method}${e.rpcMethod ? ` ${e.rpcMethod}` : ""}\`${headers ? ` (${headers})` : ""}${e.body ? ` \`${cut(e.body, 400)}\`` : ""}`;
  const reply = e.error ? `no reply (${e.error})` : `${e.status} ${e.contentType || "(no content type)"} \`${cut(e.reply, 400)}\``;
  return `${request} → ${reply}`;
}

/** @param {string} text @param {number} max */
function cut(text, max) {
  const flat = text.replace(/\s+/g, " ").replace(/`/g, "'").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
