/**
 * @module A preset's configuration as its Durable Object serves it, loaded from D1 in one batch
 * (headers decrypted).
 */

import {
  type AlertSettings,
  alertSettingsOf,
  DEFAULT_RATE_LIMIT,
  type NewTools,
  type Pinning,
  type PresetStatus,
  type RateLimitSetting,
  type ServerAuth,
  type SessionScope,
  type Visibility,
} from "../db/schema";
import type { Bindings } from "../shared/bindings";
import type { ItemOverride, ToolNaming } from "../tools/catalog";
import type { UpstreamServer } from "../upstream/client";
import { openHeaders } from "../upstream/header-secrets";

/** An enabled server of a preset, with its selections and decrypted headers. */
export interface PresetServer extends UpstreamServer {
  /** Upstream tool names to expose, or null for all. */
  selection: string[] | null;
  /** Upstream prompt names to expose, or null for all. */
  promptSelection: string[] | null;
  /** Upstream resource URIs and URI templates to expose, or null for all (see item-selection.ts). */
  resourceSelection: string[] | null;
  /** The preset's tool naming, carried per server so catalog routing needs only the server. */
  naming: ToolNaming;
  overrides: Record<string, ItemOverride> | null;
  /** Whose upstream session a request goes on (upstream/session-scope.ts). */
  sessionScope: SessionScope;
  /** owner: calls carry `headers` only; oauth: also each caller's own token (credentials/caller-credentials.ts). */
  auth: ServerAuth;
  /** Header names each caller fills with their own value. */
  userHeaders: string[];
  /** Changes whenever the way to reach the upstream changes (URL, headers, timeout). */
  fingerprint: string;
}

/** Everything the preset's Durable Object needs to serve it, loaded from D1 in one batch. */
export interface PresetConfig {
  id: string;
  ownerId: string;
  handle: string;
  slug: string;
  name: string;
  description: string | null;
  visibility: Visibility;
  status: PresetStatus;
  members: string[];
  servers: PresetServer[];
  rateLimit: RateLimitSetting;
  toolLimits: Record<string, RateLimitSetting>;
  /** Log every tools/call (presets.audit_calls), with its arguments when auditArguments is also set. */
  auditCalls: boolean;
  auditArguments: boolean;
  /** Tool pinning (pinning/pin-board.ts): on unless the owner turned it off. */
  pinning: Pinning;
  /** What pinning does with an item no pin covers. */
  newTools: NewTools;
  /** The alert detectors it runs (presets.alert_thresholds over DEFAULT_ALERTS; preset/alert-detectors.ts). */
  alerts: AlertSettings;
}

const PRESET_SQL = `SELECT p.id, p.owner_id, p.name, p.description, p.visibility, p.status, p.rate_limit, p.tool_limits,
  p.audit_calls, p.audit_arguments, p.tool_naming, p.pinning, p.new_tools, p.alert_thresholds
  FROM presets p JOIN users u ON u.id = p.owner_id WHERE u.handle = ?1 AND p.slug = ?2`;
const SERVERS_SQL = `SELECT s.id, s.name, s.url, s.headers_enc, s.timeout_ms, s.auth, s.user_headers, ps.tools, ps.prompts, ps.resources, ps.overrides, ps.session_scope
  FROM preset_servers ps JOIN servers s ON s.id = ps.server_id JOIN presets p ON p.id = ps.preset_id
  JOIN users u ON u.id = p.owner_id WHERE u.handle = ?1 AND p.slug = ?2 AND ps.enabled = 1 ORDER BY s.name`;
const MEMBERS_SQL = `SELECT m.user_id FROM preset_members m JOIN presets p ON p.id = m.preset_id
  JOIN users u ON u.id = p.owner_id WHERE u.handle = ?1 AND p.slug = ?2`;

type PresetRow = {
  id: string;
  owner_id: string;
  name: string;
  description: string | null;
  visibility: Visibility;
  status: PresetStatus;
  rate_limit: string | null;
  tool_limits: string | null;
  audit_calls: number;
  audit_arguments: number;
  tool_naming: ToolNaming;
  pinning: Pinning;
  new_tools: NewTools;
  alert_thresholds: string | null;
};
type ServerRow = {
  id: string;
  name: string;
  url: string;
  headers_enc: string | null;
  timeout_ms: number;
  auth: ServerAuth;
  user_headers: string;
  tools: string | null;
  prompts: string | null;
  resources: string | null;
  overrides: string | null;
  session_scope: SessionScope;
};

/** The preset at /mcp/<handle>/<slug>, or null if there is none. One D1 round trip. */
export async function loadPresetConfig(env: Bindings, handle: string, slug: string): Promise<PresetConfig | null> {
  const [presetRes, serversRes, membersRes] = await env.DB.batch([
    env.DB.prepare(PRESET_SQL).bind(handle, slug),
    env.DB.prepare(SERVERS_SQL).bind(handle, slug),
    env.DB.prepare(MEMBERS_SQL).bind(handle, slug),
  ]);
  const preset = presetRes?.results[0] as PresetRow | undefined;
  if (!preset) return null;
  const servers = await Promise.all(
    ((serversRes?.results ?? []) as ServerRow[]).map(async (s) => ({
      id: s.id,
      name: s.name,
      url: s.url,
      timeoutMs: s.timeout_ms,
      headers: await openHeaders(env, { id: s.id, headersEnc: s.headers_enc }),
      selection: s.tools ? (JSON.parse(s.tools) as string[]) : null,
      promptSelection: s.prompts ? (JSON.parse(s.prompts) as string[]) : null,
      resourceSelection: s.resources ? (JSON.parse(s.resources) as string[]) : null,
      naming: preset.tool_naming,
      overrides: s.overrides ? (JSON.parse(s.overrides) as Record<string, ItemOverride>) : null,
      sessionScope: s.session_scope,
      auth: s.auth,
      userHeaders: JSON.parse(s.user_headers) as string[],
      // Servers without per-user credentials keep the fingerprint they had before those existed, so
      // an upgrade does not invalidate the tool lists deployed objects cached.
      fingerprint: `${s.url}\n${s.headers_enc ?? ""}\n${s.timeout_ms}${s.auth === "owner" && s.user_headers === "[]" ? "" : `\n${s.auth}\n${s.user_headers}`}`,
    })),
  );
  return {
    id: preset.id,
    ownerId: preset.owner_id,
    handle,
    slug,
    name: preset.name,
    description: preset.description,
    visibility: preset.visibility,
    status: preset.status,
    members: ((membersRes?.results ?? []) as { user_id: string }[]).map((m) => m.user_id),
    servers,
    rateLimit: preset.rate_limit ? (JSON.parse(preset.rate_limit) as RateLimitSetting) : DEFAULT_RATE_LIMIT,
    toolLimits: preset.tool_limits ? (JSON.parse(preset.tool_limits) as Record<string, RateLimitSetting>) : {},
    auditCalls: preset.audit_calls === 1,
    auditArguments: preset.audit_calls === 1 && preset.audit_arguments === 1,
    pinning: preset.pinning,
    newTools: preset.new_tools,
    alerts: alertSettingsOf(preset.alert_thresholds ? (JSON.parse(preset.alert_thresholds) as Partial<AlertSettings>) : null),
  };
}
