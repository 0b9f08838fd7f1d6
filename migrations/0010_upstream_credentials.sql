-- Per-user upstream credentials (issue 14 part 3).
-- A server says how its calls authenticate: 'owner' (the owner's sealed headers, as before) or
-- 'oauth' (each consumer connects their own account at the upstream's authorization server).
-- user_headers lists header names each consumer fills with their own value (bring your own key).
ALTER TABLE servers ADD COLUMN auth TEXT NOT NULL DEFAULT 'owner' CHECK (auth IN ('owner', 'oauth'));
ALTER TABLE servers ADD COLUMN user_headers TEXT NOT NULL DEFAULT '[]';

-- One consumer's credentials for one server: kind 'oauth' (access and refresh token) or 'headers'
-- (their header values). secret_enc is AES-GCM sealed (src/shared/crypto.ts) and bound to
-- "<user_id>:<server_id>:<kind>", so a ciphertext copied onto another row does not open.
-- resource is the upstream URL the secret was given for: a server moved elsewhere gets none of it.
-- version changes on every write; a refresh claims refresh_lease (ms epoch) with a conditional
-- update so that concurrent callers refresh once (src/credentials/credential-store.ts).
CREATE TABLE upstream_credentials (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('oauth', 'headers')),
  secret_enc TEXT NOT NULL,
  resource TEXT NOT NULL,
  issuer TEXT,
  scope TEXT,
  header_names TEXT NOT NULL DEFAULT '[]',
  expires_at INTEGER,
  version INTEGER NOT NULL DEFAULT 1,
  refresh_lease INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, server_id, kind)
);
CREATE INDEX upstream_credentials_server ON upstream_credentials(server_id);

-- The gateway's client registrations at upstream authorization servers, per (server, issuer):
-- a Client ID Metadata Document URL (no secret) or a dynamic registration (RFC 7591), whose
-- secret, if any, is sealed bound to "<server_id>:<issuer>". The endpoints are those of the
-- authorization server's metadata when the registration was made.
CREATE TABLE upstream_oauth_clients (
  server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
  issuer TEXT NOT NULL,
  registration TEXT NOT NULL CHECK (registration IN ('metadata_document', 'dynamic')),
  client_id TEXT NOT NULL,
  client_secret_enc TEXT,
  token_endpoint_auth_method TEXT NOT NULL,
  authorization_endpoint TEXT NOT NULL,
  token_endpoint TEXT NOT NULL,
  revocation_endpoint TEXT,
  redirect_uri TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (server_id, issuer)
);

-- A connect flow between the redirect to the upstream and its callback: one use, 10 minutes,
-- bound to the signed-in user who started it. Only the state's hash is stored; the PKCE verifier
-- is sealed bound to that hash.
CREATE TABLE upstream_connect_states (
  state_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  server_id TEXT NOT NULL,
  issuer TEXT NOT NULL,
  resource TEXT NOT NULL,
  verifier_enc TEXT NOT NULL,
  return_label TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX upstream_connect_states_user ON upstream_connect_states(user_id, expires_at);
CREATE INDEX upstream_connect_states_expiry ON upstream_connect_states(expires_at);
