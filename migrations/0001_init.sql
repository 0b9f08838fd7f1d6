-- Users own servers and presets; every id is an opaque prefixed string.
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  handle TEXT NOT NULL UNIQUE,
  email TEXT,
  created_at INTEGER NOT NULL
);

-- API tokens are stored only as SHA-256 hashes; `prefix` is the first characters, shown in lists.
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

-- Upstream MCP servers. `headers_enc` is AES-GCM ciphertext; `header_names` lets the API show masked headers.
CREATE TABLE servers (
  id TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  url TEXT NOT NULL,
  headers_enc TEXT,
  header_names TEXT NOT NULL DEFAULT '[]',
  timeout_ms INTEGER NOT NULL DEFAULT 30000,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (owner_id, name)
);

CREATE TABLE presets (
  id TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  slug TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT,
  visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private', 'invite_only')),
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'archived')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (owner_id, slug)
);

-- A server attached to a preset; `tools` is a JSON array of upstream tool names, or NULL for all.
CREATE TABLE preset_servers (
  preset_id TEXT NOT NULL REFERENCES presets(id) ON DELETE CASCADE,
  server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
  enabled INTEGER NOT NULL DEFAULT 1,
  tools TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (preset_id, server_id)
);
CREATE INDEX preset_servers_server ON preset_servers(server_id);

CREATE TABLE preset_members (
  preset_id TEXT NOT NULL REFERENCES presets(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  added_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (preset_id, user_id)
);

-- Audit trail. Events outlive the preset they describe, so preset_id is not a foreign key.
CREATE TABLE events (
  id TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL,
  preset_id TEXT,
  actor_id TEXT,
  type TEXT NOT NULL,
  target TEXT,
  payload TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
);
CREATE INDEX events_preset_time ON events(preset_id, created_at DESC, id DESC);
CREATE INDEX events_owner_time ON events(owner_id, created_at DESC);
