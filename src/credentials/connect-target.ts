/**
 * @module The server a /connect URL or a /connections API path names: `<owner handle>/<preset
 * slug>/<server name>`, an active preset, an enabled server of it that takes its callers' own
 * credentials.
 */
import { loadPresetConfig, type PresetConfig, type PresetServer } from "../preset/config";
import type { Bindings } from "../shared/bindings";
import { needsCallerCredentials } from "./caller-credentials";

export interface ConnectTarget {
  preset: PresetConfig;
  server: PresetServer;
  /** `<handle>/<slug>/<server>`. */
  label: string;
}

const NAME = /^[a-z0-9-]{1,50}$/;
const SERVER = /^[a-z0-9_-]{1,32}$/;

export async function findConnectTarget(env: Bindings, handle: string, slug: string, serverName: string): Promise<ConnectTarget | null> {
  if (!NAME.test(handle) || !NAME.test(slug) || !SERVER.test(serverName)) return null;
  const preset = await loadPresetConfig(env, handle, slug);
  if (preset?.status !== "active") return null;
  const server = preset.servers.find((s) => s.name === serverName);
  if (!server || !needsCallerCredentials(server)) return null;
  return { preset, server, label: `${handle}/${slug}/${serverName}` };
}
