import type { PresetGateway } from "./preset-gateway";

/** Bindings and settings of the worker (see wrangler.toml and .dev.vars.example). */
export interface Env {
  DB: D1Database;
  PRESETS: DurableObjectNamespace<PresetGateway>;
  /** Bootstrap credential: the only one that may create users. A secret. */
  ADMIN_TOKEN?: string;
  /** Key material for encrypting upstream header secrets at rest. A secret. */
  ENCRYPTION_KEY?: string;
  /** "true" lets upstream URLs be plain http on loopback (local development only). */
  ALLOW_INSECURE_UPSTREAMS?: string;
  /** Comma-separated browser origins allowed on the MCP endpoint besides the gateway's own; "*" allows any. */
  ALLOWED_ORIGINS?: string;
  /** Largest MCP POST body accepted, in bytes (default 1 MiB). */
  MCP_MAX_BODY_BYTES?: string;
  /** Canonical public base URL (e.g. https://gateway.example.com); defaults to the request's origin. */
  PUBLIC_URL?: string;
}
