/**
 * @module Prompts, resources, resource templates, completions and log levels of a preset: aggregated
 * from its enabled servers with the preset's naming (prompt names like tool names; resource URIs
 * kept with plain naming, wrapped as `mcpgate://<server>/<uri>` with prefixed naming), and routed
 * back to the owning upstream. Each server exposes only its selected prompts and resources (see
 * item-selection.ts); an unselected one is refused exactly like an unknown one. The capabilities
 * and instructions a preset declares are derived from what its upstreams declared.
 */

import { CredentialsRequired, credentialsRequiredError } from "../credentials/caller-credentials";
import { RpcCode, type RpcRequest, rpcErrorBody, rpcResultBody } from "../mcp/jsonrpc";
import { heldMessage, type PinBoard } from "../pinning/pin-board";
import type { PresetConfig, PresetServer } from "../preset/config";
import { EXPOSED_PROMPT_NAME, exposedNameIn, NAME_SEPARATOR } from "../tools/catalog";
import type { CatalogAudit } from "../tools/catalog-audit";
import { type PassedRounds, roundKey, UNKNOWN_REQUEST_STATE } from "../tools/input-rounds";
import { offersToolTasks } from "../tools/task-routes";
import { CallerIdentityError, type Item, type ItemKind, UpstreamFailure, UpstreamRpcError } from "../upstream/client";
import type { UpstreamPool } from "../upstream/pool";
import type { UpstreamCaller } from "../upstream/session-scope";
import { exposeResultUris, selectItems, selectsPrompt, uriJudge } from "./item-selection";
import { exposeUri, matchesTemplate, parsePrefixedUri } from "./resource-names";

export const ITEM_METHODS = new Set([
  "prompts/list",
  "prompts/get",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "resources/subscribe",
  "resources/unsubscribe",
  "completion/complete",
  "logging/setLevel",
]);

const LIST_KEYS: Record<string, { kind: ItemKind; key: string }> = {
  "prompts/list": { kind: "prompts", key: "prompts" },
  "resources/list": { kind: "resources", key: "resources" },
  "resources/templates/list": { kind: "resourceTemplates", key: "resourceTemplates" },
};

type Target = { server: PresetServer; value: string };

/** A URI that expands a selected template only with an unsafe variable value (item-selection.ts). */
const UNSAFE = "unsafe";
type Routed = Target | typeof UNSAFE | null;

/** The owner of a `mcpgate://<server>/<uri>` URI or template (prefixed naming) if it selects it, or null. */
function byPrefix(config: PresetConfig, exposed: string): Routed {
  const prefixed = parsePrefixedUri(exposed);
  const server = prefixed && config.servers.find((s) => s.naming !== "plain" && s.name === prefixed.server);
  if (!server || !prefixed) return null;
  const verdict = uriJudge(server.resourceSelection)(prefixed.uri);
  return verdict === "selected" ? { server, value: prefixed.uri } : verdict === UNSAFE ? UNSAFE : null;
}

/** The plain-naming servers whose resource selection admits a URI (or template string), or UNSAFE if one admits it only unsafely. */
function plainSelecting(config: PresetConfig, uri: string): PresetServer[] | typeof UNSAFE {
  const verdicts = config.servers.filter((s) => s.naming === "plain").map((s) => ({ s, verdict: uriJudge(s.resourceSelection)(uri) }));
  const selecting = verdicts.filter((v) => v.verdict === "selected").map((v) => v.s);
  return selecting.length === 0 && verdicts.some((v) => v.verdict === UNSAFE) ? UNSAFE : selecting;
}

const unsafeMessage = (field: string) =>
  `${field} expands a selected resource template with a value the gateway refuses: '.' or '..' segments, encoded '/' or '\\', backslashes and control characters are not allowed in template variables.`;

/** A modern-era caller of prompts/get or resources/read: who it is, what it declared, where its rounds are kept. */
export interface ModernCaller {
  owner: string;
  capabilities: Record<string, unknown>;
  rounds: PassedRounds;
}

/** How long initialize waits to learn an upstream's capabilities it has never seen (once per upstream). */
const DESCRIBE_BUDGET_MS = 1_500;

/** The value, or null if it takes longer than the budget (the work goes on in the background). */
async function withinBudget<T>(work: Promise<T | null>): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), DESCRIBE_BUDGET_MS);
  });
  try {
    return await Promise.race([work.catch(() => null), late]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

export class PresetItems {
  readonly #pool: UpstreamPool;
  readonly #audit: CatalogAudit | null;
  readonly #pins: PinBoard | null;

  constructor(pool: UpstreamPool, opts: { audit?: CatalogAudit; pins?: PinBoard } = {}) {
    this.#pool = pool;
    this.#audit = opts.audit ?? null;
    this.#pins = opts.pins ?? null;
  }

  /**
   * What the preset declares at initialize: tools always; prompts and resources when an upstream
   * has them and the preset selects any of them; completions when such an upstream offers them for
   * what the preset exposes; logging when an upstream logs.
   */
  async describe(config: PresetConfig, caller?: UpstreamCaller): Promise<{ capabilities: Record<string, unknown>; instructions: string | null }> {
    const profiles = await Promise.all(
      config.servers.map(async (s) => ({ server: s, profile: this.#pool.knownProfile(s) ?? (await withinBudget(this.#pool.profile(s, caller))) })),
    );
    type Profiled = (typeof profiles)[number];
    // An empty selection (`[]`) exposes none of that kind; null exposes all.
    const exposes = (p: Profiled, cap: string): boolean => {
      if (!p.profile?.capabilities[cap]) return false;
      if (cap === "prompts") return p.server.promptSelection?.length !== 0;
      if (cap === "resources") return p.server.resourceSelection?.length !== 0;
      if (cap === "completions") return exposes(p, "prompts") || exposes(p, "resources");
      return true;
    };
    const has = (cap: string) => profiles.some((p) => exposes(p, cap));
    // listChanged: the gateway tells listening clients whenever what a list answers changes,
    // whether the upstream said so or the owner changed the preset (PresetNotifications).
    const capabilities: Record<string, unknown> = { tools: { listChanged: true } };
    if (has("prompts")) capabilities.prompts = { listChanged: true };
    if (has("resources")) {
      const subscribe = profiles.some((p) => exposes(p, "resources") && (p.profile?.capabilities.resources as { subscribe?: boolean } | undefined)?.subscribe);
      capabilities.resources = subscribe ? { subscribe: true, listChanged: true } : { listChanged: true };
    }
    if (has("logging")) capabilities.logging = {};
    if (has("completions")) capabilities.completions = {};
    // Tasks (2025-11-25): when an upstream lets tools/call run as a task, so may the preset (tools/task-routes.ts).
    if (profiles.some((p) => offersToolTasks(p.profile?.capabilities))) capabilities.tasks = { list: {}, cancel: {}, requests: { tools: { call: {} } } };
    const parts = [config.description, ...profiles.filter((p) => p.profile?.instructions).map((p) => `## ${p.server.name}\n${p.profile!.instructions}`)];
    const instructions = parts.filter(Boolean).join("\n\n");
    return { capabilities, instructions: instructions || null };
  }

  /**
   * The answer to an item request. With `modern` (a 2026-07-28 client), prompts/get and
   * resources/read tell a modern upstream the client's own capabilities, and an input_required
   * answer goes to the client as a round of its own (input-rounds.ts PassedRounds); its retry's
   * requestState is exchanged for the upstream's.
   */
  /**
   * The answer to a prompt, resource or completion request. `caller` picks the upstream session a
   * request goes on (session-scope.ts), the gateway's own when absent.
   */
  async answer(config: PresetConfig, req: RpcRequest, modern?: ModernCaller, caller?: UpstreamCaller): Promise<string> {
    if (modern && (req.method === "prompts/get" || req.method === "resources/read") && req.params?.requestState !== undefined) {
      const redeemed = modern.rounds.redeem(req.params.requestState, modern.owner, roundKey(req.method, req.params));
      if (!redeemed) return rpcErrorBody(req.id, RpcCode.InvalidParams, UNKNOWN_REQUEST_STATE);
      if ("refused" in redeemed) return rpcErrorBody(req.id, RpcCode.InvalidParams, redeemed.refused);
      const { requestState: _client, ...params } = req.params;
      req = { ...req, params: redeemed.state === null ? params : { ...params, requestState: redeemed.state } };
    }
    try {
      const list = LIST_KEYS[req.method];
      if (list) return rpcResultBody(req.id, { [list.key]: await this.#list(config, list.kind, caller) });
      const params = req.params ?? {};
      switch (req.method) {
        case "prompts/get": {
          if (typeof params.name !== "string") return rpcErrorBody(req.id, RpcCode.InvalidParams, "prompts/get needs params.name (a string).");
          const target = await this.#routePrompt(config, params.name, caller);
          if (!target) return rpcErrorBody(req.id, RpcCode.InvalidParams, `Unknown prompt: ${params.name}`);
          if (this.#pins?.isHeld(config, target.server, "prompt", target.value)) {
            return rpcErrorBody(req.id, RpcCode.InvalidParams, heldMessage("prompt", params.name), { reason: "awaiting_review", prompt: params.name });
          }
          return await this.#forward(req, target, { ...params, name: target.value }, modern, caller);
        }
        case "resources/read":
        case "resources/subscribe":
        case "resources/unsubscribe": {
          if (typeof params.uri !== "string") return rpcErrorBody(req.id, RpcCode.InvalidParams, `${req.method} needs params.uri (a string).`);
          const target = await this.#routeUri(config, params.uri, caller);
          if (target === UNSAFE) return rpcErrorBody(req.id, RpcCode.InvalidParams, unsafeMessage("params.uri"), { uri: params.uri });
          if (!target) return rpcErrorBody(req.id, RpcCode.ResourceNotFound, `Resource not found: ${params.uri}`, { uri: params.uri });
          const read = req.method === "resources/read";
          return await this.#forward(req, target, { ...params, uri: target.value }, read ? modern : undefined, caller);
        }
        case "completion/complete": {
          const ref = params.ref as { type?: unknown; name?: unknown; uri?: unknown } | undefined;
          let target: Routed = null;
          if (ref?.type === "ref/prompt" && typeof ref.name === "string") target = await this.#routePrompt(config, ref.name, caller);
          else if (ref?.type === "ref/resource" && typeof ref.uri === "string") target = await this.#routeTemplate(config, ref.uri, caller);
          else return rpcErrorBody(req.id, RpcCode.InvalidParams, "completion/complete needs params.ref (ref/prompt with a name or ref/resource with a uri).");
          if (target === UNSAFE) return rpcErrorBody(req.id, RpcCode.InvalidParams, unsafeMessage("params.ref.uri"));
          if (!target) return rpcErrorBody(req.id, RpcCode.InvalidParams, "Unknown completion reference.");
          const upstreamRef = ref.type === "ref/prompt" ? { ...ref, name: target.value } : { ...ref, uri: target.value };
          return await this.#forward(req, target, { ...params, ref: upstreamRef }, undefined, caller);
        }
        case "logging/setLevel": {
          if (typeof params.level !== "string") return rpcErrorBody(req.id, RpcCode.InvalidParams, "logging/setLevel needs params.level (a string).");
          await Promise.all(
            config.servers.map(async (s) => {
              if (!this.#pool.knownProfile(s)?.capabilities.logging) return;
              await this.#pool.request(s, "logging/setLevel", params, s.timeoutMs).catch(() => {});
            }),
          );
          return rpcResultBody(req.id, {});
        }
      }
      return rpcErrorBody(req.id, RpcCode.MethodNotFound, `Method not found: ${req.method}`);
    } catch (e) {
      if (e instanceof UpstreamRpcError) return rpcErrorBody(req.id, e.code, e.message, e.data);
      if (e instanceof UpstreamFailure) return rpcErrorBody(req.id, RpcCode.UpstreamUnavailable, e.message, { upstream: e.upstream, reason: e.kind });
      if (e instanceof CallerIdentityError) {
        if (!(e.cause instanceof CredentialsRequired)) return rpcErrorBody(req.id, RpcCode.Unauthorized, e.message, { upstream: e.upstream });
        const error = credentialsRequiredError(e.cause, caller?.capabilities ?? {});
        return rpcErrorBody(req.id, error.code, error.message, error.data);
      }
      throw e;
    }
  }

  async #forward(req: RpcRequest, target: Target, params: Record<string, unknown>, modern?: ModernCaller, caller?: UpstreamCaller): Promise<string> {
    const relay = { ...(modern ? { clientCapabilities: modern.capabilities, passThroughInput: true } : {}), ...(caller ? { caller } : {}) };
    const result = await this.#pool.request(target.server, req.method, params, target.server.timeoutMs, undefined, relay);
    if (modern && result.resultType === "input_required") {
      try {
        return rpcResultBody(req.id, modern.rounds.issue(target.server.name, modern.owner, roundKey(req.method, req.params), result));
      } catch {
        return rpcErrorBody(req.id, RpcCode.InternalError, "The gateway holds too many rounds waiting for their clients' input; try again later.");
      }
    }
    return rpcResultBody(req.id, exposeResultUris(target.server, result));
  }

  /** Every enabled server's selected items of one kind, exposed; an upstream that cannot be listed is left out. */
  async #list(config: PresetConfig, kind: ItemKind, caller?: UpstreamCaller): Promise<Item[]> {
    const lists = await Promise.all(
      config.servers.map(async (server) => {
        const items = await this.#pool.items(server, kind, caller).catch(() => [] as Item[]);
        const selection = kind === "prompts" ? server.promptSelection : server.resourceSelection;
        // Prompts and resource templates whose definition changed are held for the owner's review (pinning/pin-board.ts).
        const pinKind = kind === "prompts" ? "prompt" : kind === "resourceTemplates" ? "template" : null;
        const selected = selectItems(kind, selection, pinKind && this.#pins ? this.#pins.admit(config, server, pinKind, items) : items);
        return (kind === "prompts" ? selected.filter((p) => this.#validPrompt(config, server, String(p.name ?? ""))) : selected).map((item) =>
          this.#expose(server, kind, item),
        );
      }),
    );
    return lists.flat();
  }

  #expose(server: PresetServer, kind: ItemKind, item: Item): Item {
    if (kind === "prompts") return { ...item, name: exposedNameIn({ server: server.name, naming: server.naming }, String(item.name)) };
    if (kind === "resources") return { ...item, uri: exposeUri(server.name, server.naming, String(item.uri)) };
    return { ...item, uriTemplate: exposeUri(server.name, server.naming, String(item.uriTemplate)) };
  }

  /** The server that owns an exposed resource URI, or null. */
  async ownerOf(config: PresetConfig, uri: string, caller?: UpstreamCaller): Promise<PresetServer | null> {
    const target = await this.#routeUri(config, uri, caller);
    return target && target !== UNSAFE ? target.server : null;
  }

  /** Whether an exposed prompt name is valid; an invalid one is audited (prompt.refused) and left out. */
  #validPrompt(config: PresetConfig, server: PresetServer, upstreamName: string): boolean {
    const name = exposedNameIn({ server: server.name, naming: server.naming }, upstreamName);
    if (upstreamName && EXPOSED_PROMPT_NAME.test(name)) return true;
    this.#audit?.note(config, "prompt.refused", server.name, name);
    return false;
  }

  async #routePrompt(config: PresetConfig, name: string, caller?: UpstreamCaller): Promise<Target | null> {
    if (!EXPOSED_PROMPT_NAME.test(name)) return null;
    const at = name.indexOf(NAME_SEPARATOR);
    if (at > 0) {
      const server = config.servers.find((s) => s.naming !== "plain" && s.name === name.slice(0, at));
      const value = name.slice(at + NAME_SEPARATOR.length);
      if (server && !value) return null;
      if (server) return selectsPrompt(server.promptSelection, value) ? { server, value } : null;
    }
    for (const server of config.servers.filter((s) => s.naming === "plain" && selectsPrompt(s.promptSelection, name))) {
      const prompts = await this.#pool.items(server, "prompts", caller).catch(() => [] as Item[]);
      if (prompts.some((p) => p.name === name)) return { server, value: name };
    }
    return null;
  }

  /** The owner of a selected resource URI: by its prefix, else an exact listed URI, else a template match. */
  async #routeUri(config: PresetConfig, uri: string, caller?: UpstreamCaller): Promise<Routed> {
    if (parsePrefixedUri(uri)) return byPrefix(config, uri);
    const plain = plainSelecting(config, uri);
    if (plain === UNSAFE) return UNSAFE;
    for (const server of plain) {
      const resources = await this.#pool.items(server, "resources", caller).catch(() => [] as Item[]);
      if (resources.some((r) => r.uri === uri)) return { server, value: uri };
    }
    for (const server of plain) {
      const templates = await this.#pool.items(server, "resourceTemplates", caller).catch(() => [] as Item[]);
      if (templates.some((t) => typeof t.uriTemplate === "string" && matchesTemplate(t.uriTemplate, uri))) return { server, value: uri };
    }
    return null;
  }

  /** The owner of a selected resource template named by its (exposed) template string. */
  async #routeTemplate(config: PresetConfig, uriTemplate: string, caller?: UpstreamCaller): Promise<Routed> {
    if (parsePrefixedUri(uriTemplate)) return byPrefix(config, uriTemplate);
    const plain = plainSelecting(config, uriTemplate);
    if (plain === UNSAFE) return UNSAFE;
    for (const server of plain) {
      const templates = await this.#pool.items(server, "resourceTemplates", caller).catch(() => [] as Item[]);
      if (templates.some((t) => t.uriTemplate === uriTemplate)) return { server, value: uriTemplate };
    }
    return this.#routeUri(config, uriTemplate, caller);
  }
}
