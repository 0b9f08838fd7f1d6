-- Sessions of the web console (src/console/). The browser holds a random session id in the
-- `__Host-mcpgate_console` cookie; only its SHA-256 is stored here, so a leaked database does not
-- let anyone sign in. `csrf` is the token every console form carries. A session ends at
-- `expires_at` (absolute: 7 days after sign-in) or 12 hours after `last_seen`, whichever is first.
CREATE TABLE console_sessions (
  id_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions(user_id, created_at);
